//! The emulator's platform state: products, devices, tags and registration applications, with the
//! asynchronous ApplyId state machine. Pure data and rules; no HTTP, no clock of its own (callers
//! pass `now_ms`), so it persists as JSON and is tested with plain values.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::wire::ops::{ApplyStatus, InvalidDetail, Member, NameToCheck};

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// A product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Product {
    /// The ProductKey.
    pub key: String,
    /// The name.
    pub name: String,
    /// The instance it lives in (`None`: the public instance).
    #[serde(default)]
    pub instance: Option<String>,
    /// The product secret.
    pub secret: Secret,
    /// `secret`, `id2` or `x509`.
    pub auth_type: String,
    /// 0 device, 1 gateway.
    pub node_type: i32,
    /// `iothub` or `iothub_senior`.
    pub commodity_code: String,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// Network type code.
    #[serde(default)]
    pub net_type: Option<i32>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Protocol type.
    #[serde(default)]
    pub protocol_type: Option<String>,
    /// Product tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Creation, epoch ms.
    pub created_ms: i64,
    /// Creation order, for newest-first listings.
    pub seq: u64,
}

/// A device group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    /// The GroupId.
    pub id: String,
    /// The name, unique in the account.
    pub name: String,
    /// The description.
    #[serde(default)]
    pub description: String,
    /// The parent's GroupId.
    #[serde(default)]
    pub parent: Option<String>,
    /// The instance it lives in (`None`: the public instance).
    #[serde(default)]
    pub instance: Option<String>,
    /// Group tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Members, by product and name.
    #[serde(default)]
    pub members: BTreeSet<Member>,
    /// Creation, epoch ms.
    pub created_ms: i64,
    /// Creation order, for newest-first listings.
    pub seq: u64,
}

/// A device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Device {
    /// The DeviceName.
    pub name: String,
    /// The IotId.
    pub iot_id: String,
    /// The DeviceSecret.
    pub secret: Secret,
    /// The nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Whether DisableThing was called (and not undone).
    #[serde(default)]
    pub disabled: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Creation, epoch ms.
    pub created_ms: i64,
    /// Last change, epoch ms.
    pub modified_ms: i64,
    /// Creation order within the product.
    pub seq: u64,
}

impl Device {
    /// The platform status: `DISABLE` or `UNACTIVE` (emulated devices never connect).
    #[must_use]
    pub fn status(&self) -> &'static str {
        if self.disabled { "DISABLE" } else { "UNACTIVE" }
    }
}

/// The devices of one product, by name and in creation order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductDevices {
    /// Devices by name.
    pub by_name: HashMap<String, Device>,
    /// Names by creation sequence (oldest first).
    #[serde(skip)]
    pub by_seq: BTreeMap<u64, String>,
}

impl ProductDevices {
    fn reindex(&mut self) {
        self.by_seq = self
            .by_name
            .values()
            .map(|device| (device.seq, device.name.clone()))
            .collect();
    }

    /// Adds a device.
    pub fn insert(&mut self, device: Device) {
        self.by_seq.insert(device.seq, device.name.clone());
        self.by_name.insert(device.name.clone(), device);
    }

    /// Removes a device by name.
    pub fn remove(&mut self, name: &str) -> Option<Device> {
        let device = self.by_name.remove(name)?;
        self.by_seq.remove(&device.seq);
        Some(device)
    }
}

/// What an application registers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum ApplyKind {
    /// Named devices from BatchCheckDeviceNames.
    Names(Vec<NameToCheck>),
    /// Random names from BatchRegisterDevice.
    Random(u32),
}

/// A registration application (ApplyId).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Application {
    /// The ApplyId.
    pub id: i64,
    /// The product.
    pub product_key: String,
    /// What it registers.
    pub kind: ApplyKind,
    /// The state.
    pub status: ApplyStatus,
    /// When the pending state completes, epoch ms.
    pub ready_at_ms: i64,
    /// Names that passed (failed states) — or were created.
    #[serde(default)]
    pub valid: Vec<String>,
    /// Failures with reasons.
    #[serde(default)]
    pub invalid: Vec<InvalidDetail>,
    /// Devices created by this application, in application order.
    #[serde(default)]
    pub created: Vec<String>,
}

/// All emulated platform state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Store {
    /// Format version.
    pub version: u32,
    /// Products by key.
    pub products: BTreeMap<String, Product>,
    /// Devices by product key.
    pub devices: BTreeMap<String, ProductDevices>,
    /// Applications by id.
    pub applications: BTreeMap<i64, Application>,
    /// Device groups by GroupId.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// Last ApplyId handed out.
    pub last_apply_id: i64,
    /// Last sequence number handed out.
    pub last_seq: u64,
    /// Instances that exist besides the public one.
    #[serde(default)]
    pub instances: BTreeSet<String>,
    /// Names whose creation is forced to fail (fault injection).
    #[serde(default)]
    pub fail_create: BTreeSet<String>,
    /// Names the asynchronous check refuses as taken (fault injection: another party holds them).
    #[serde(default)]
    pub fail_check: BTreeSet<String>,
    /// Applications not yet settled.
    #[serde(skip)]
    pending: BTreeSet<i64>,
}

/// Random alphanumeric text.
#[must_use]
pub fn random_alnum(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

impl Store {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self {
            version: STATE_VERSION,
            ..Self::default()
        }
    }

    /// Checks what a state file must hold, after loading: every device under a known product and
    /// under its own name, creation sequence numbers unique and handed out, every application of
    /// a known product. A product with no devices entry has no devices, and gets an empty one.
    ///
    /// # Errors
    /// The first inconsistency, saying where it is.
    pub fn check_invariants(&mut self) -> Result<(), String> {
        for key in self.products.keys() {
            self.devices.entry(key.clone()).or_default();
        }
        let mut seqs = BTreeSet::new();
        for (key, devices) in &self.devices {
            if !self.products.contains_key(key) {
                return Err(format!(
                    "devices are listed under product {key}, which is not in products"
                ));
            }
            for (name, device) in &devices.by_name {
                if *name != device.name {
                    return Err(format!(
                        "product {key}: the device listed as {name} is named {}",
                        device.name
                    ));
                }
                if device.seq > self.last_seq || !seqs.insert(device.seq) {
                    return Err(format!(
                        "product {key}: device {name} has sequence number {}, which is repeated or above last_seq {}",
                        device.seq, self.last_seq
                    ));
                }
            }
        }
        for (id, group) in &self.groups {
            if *id != group.id {
                return Err(format!(
                    "group {id} is listed under another id ({})",
                    group.id
                ));
            }
            let mut level = 1;
            let mut parent = group.parent.as_ref();
            while let Some(up) = parent {
                let Some(above) = self.groups.get(up) else {
                    return Err(format!(
                        "group {id} has parent {up}, which is not in groups"
                    ));
                };
                level += 1;
                if level > crate::wire::MAX_GROUP_DEPTH {
                    return Err(format!(
                        "group {id} is nested deeper than {} levels (or its parents loop)",
                        crate::wire::MAX_GROUP_DEPTH
                    ));
                }
                parent = above.parent.as_ref();
            }
            if let Some(member) = group.members.iter().find(|m| {
                self.devices
                    .get(&m.product_key)
                    .is_none_or(|d| !d.by_name.contains_key(&m.device_name))
            }) {
                return Err(format!(
                    "group {id} lists member {}/{}, which is not in devices",
                    member.product_key, member.device_name
                ));
            }
        }
        for (id, application) in &self.applications {
            if *id != application.id || *id > self.last_apply_id {
                return Err(format!(
                    "application {id} is listed under another id or above last_apply_id {}",
                    self.last_apply_id
                ));
            }
            if !self.products.contains_key(&application.product_key) {
                return Err(format!(
                    "application {id} is of product {}, which is not in products",
                    application.product_key
                ));
            }
        }
        Ok(())
    }

    /// Rebuilds the indexes that are not persisted, after loading.
    pub fn reindex(&mut self) {
        for devices in self.devices.values_mut() {
            devices.reindex();
        }
        self.pending = self
            .applications
            .values()
            .filter(|application| application.status.is_pending())
            .map(|application| application.id)
            .collect();
    }

    /// The next creation sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Adds a product.
    pub fn add_product(&mut self, mut product: Product) {
        product.seq = self.next_seq();
        if let Some(instance) = &product.instance {
            self.instances.insert(instance.clone());
        }
        self.devices.entry(product.key.clone()).or_default();
        self.products.insert(product.key.clone(), product);
    }

    /// A product, if it exists in the given instance.
    #[must_use]
    pub fn product(&self, key: &str, instance: Option<&str>) -> Option<&Product> {
        self.products
            .get(key)
            .filter(|product| product.instance.as_deref() == instance)
    }

    /// Creates a device with fresh IotId and secret.
    pub fn create_device(
        &mut self,
        product_key: &str,
        name: &str,
        nickname: Option<String>,
        now_ms: i64,
    ) {
        let seq = self.next_seq();
        let device = Device {
            name: name.to_owned(),
            iot_id: format!("{}{:06}", random_alnum(20), seq % 1_000_000),
            secret: Secret::new(random_alnum(32)),
            nickname,
            disabled: false,
            tags: BTreeMap::new(),
            created_ms: now_ms,
            modified_ms: now_ms,
            seq,
        };
        self.devices
            .entry(product_key.to_owned())
            .or_default()
            .insert(device);
    }

    /// Removes a device, and its memberships.
    pub fn delete_device(&mut self, product_key: &str, name: &str) {
        if let Some(devices) = self.devices.get_mut(product_key) {
            devices.remove(name);
        }
        let member = Member {
            product_key: product_key.to_owned(),
            device_name: name.to_owned(),
        };
        for group in self.groups.values_mut() {
            group.members.remove(&member);
        }
    }

    /// How many groups hold a device.
    #[must_use]
    pub fn groups_of(&self, member: &Member) -> usize {
        self.groups
            .values()
            .filter(|g| g.members.contains(member))
            .count()
    }

    /// How deep a group is: a top-level group is level 1.
    #[must_use]
    pub fn group_level(&self, id: &str) -> usize {
        let mut level = 0;
        let mut at = Some(id);
        while let Some(id) = at {
            level += 1;
            at = self.groups.get(id).and_then(|g| g.parent.as_deref());
            if level > self.groups.len() {
                break;
            }
        }
        level
    }

    /// Starts an application in `CHECK` (names) or `CREATE` (random names).
    pub fn start_application(
        &mut self,
        product_key: &str,
        kind: ApplyKind,
        ready_at_ms: i64,
    ) -> i64 {
        self.last_apply_id += 1;
        let id = self.last_apply_id;
        let status = match kind {
            ApplyKind::Names(_) => ApplyStatus::Check,
            ApplyKind::Random(_) => ApplyStatus::Create,
        };
        self.applications.insert(
            id,
            Application {
                id,
                product_key: product_key.to_owned(),
                kind,
                status,
                ready_at_ms,
                valid: Vec::new(),
                invalid: Vec::new(),
                created: Vec::new(),
            },
        );
        self.pending.insert(id);
        id
    }

    /// Moves a `CHECK_SUCCESS` application into `CREATE`.
    pub fn begin_create(&mut self, id: i64, ready_at_ms: i64) {
        if let Some(application) = self.applications.get_mut(&id) {
            application.status = ApplyStatus::Create;
            application.ready_at_ms = ready_at_ms;
            self.pending.insert(id);
        }
    }

    /// Settles every pending application whose time has come. Returns whether anything changed.
    pub fn advance(&mut self, now_ms: i64) -> bool {
        let due: Vec<i64> = self
            .pending
            .iter()
            .copied()
            .filter(|id| {
                self.applications
                    .get(id)
                    .is_none_or(|a| a.ready_at_ms <= now_ms)
            })
            .collect();
        for id in &due {
            self.pending.remove(id);
            if let Some(application) = self.applications.remove(id) {
                let settled = self.settle(application, now_ms);
                self.applications.insert(*id, settled);
            }
        }
        !due.is_empty()
    }

    fn settle(&mut self, mut application: Application, now_ms: i64) -> Application {
        let product_key = application.product_key.clone();
        match application.status {
            ApplyStatus::Check => {
                let ApplyKind::Names(names) = &application.kind else {
                    return application;
                };
                let existing = self.devices.get(&product_key);
                let (valid, invalid): (Vec<&NameToCheck>, Vec<&NameToCheck>) =
                    names.iter().partition(|entry| {
                        existing.is_none_or(|d| !d.by_name.contains_key(&entry.name))
                            && !self.fail_check.contains(&entry.name)
                    });
                application.valid = valid.iter().map(|entry| entry.name.clone()).collect();
                application.invalid = invalid
                    .iter()
                    .map(|entry| InvalidDetail {
                        device_name: entry.name.clone(),
                        nick_name: entry.nickname.clone(),
                        error_msg: "device name already exists".to_owned(),
                    })
                    .collect();
                application.status = if application.invalid.is_empty() {
                    application.valid.clear();
                    ApplyStatus::CheckSuccess
                } else {
                    ApplyStatus::CheckFailed
                };
            }
            ApplyStatus::Create => {
                let entries: Vec<NameToCheck> = match &application.kind {
                    ApplyKind::Names(names) => names.clone(),
                    ApplyKind::Random(count) => (0..*count)
                        .map(|_| NameToCheck {
                            name: random_alnum(20),
                            nickname: None,
                        })
                        .collect(),
                };
                application.valid.clear();
                application.invalid.clear();
                for entry in entries {
                    let exists = self
                        .devices
                        .get(&product_key)
                        .is_some_and(|d| d.by_name.contains_key(&entry.name));
                    let reason = if exists {
                        Some("device name already exists")
                    } else if self.fail_create.contains(&entry.name) {
                        Some("device creation failed")
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        application.invalid.push(InvalidDetail {
                            device_name: entry.name,
                            nick_name: entry.nickname,
                            error_msg: reason.to_owned(),
                        });
                    } else {
                        self.create_device(
                            &product_key,
                            &entry.name,
                            entry.nickname.clone(),
                            now_ms,
                        );
                        application.valid.push(entry.name.clone());
                        application.created.push(entry.name);
                    }
                }
                application.status = if application.invalid.is_empty() {
                    ApplyStatus::CreateSuccess
                } else {
                    ApplyStatus::CreateFailed
                };
            }
            _ => {}
        }
        application
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(key: &str) -> Product {
        Product {
            key: key.to_owned(),
            name: format!("name_{key}"),
            instance: None,
            secret: Secret::new("s"),
            auth_type: "secret".into(),
            node_type: 0,
            commodity_code: "iothub".into(),
            data_format: None,
            net_type: None,
            description: String::new(),
            protocol_type: None,
            tags: BTreeMap::new(),
            created_ms: 0,
            seq: 0,
        }
    }

    fn names(list: &[&str]) -> ApplyKind {
        ApplyKind::Names(
            list.iter()
                .map(|n| NameToCheck {
                    name: (*n).to_owned(),
                    nickname: None,
                })
                .collect(),
        )
    }

    #[test]
    fn application_moves_through_check_and_create_at_its_time() {
        let mut store = Store::new();
        store.add_product(product("pk"));
        let id = store.start_application("pk", names(&["dev1", "dev2"]), 100);
        assert!(!store.advance(99));
        assert_eq!(store.applications[&id].status, ApplyStatus::Check);
        assert!(store.advance(100));
        assert_eq!(store.applications[&id].status, ApplyStatus::CheckSuccess);
        store.begin_create(id, 200);
        store.advance(150);
        assert!(store.devices["pk"].by_name.is_empty());
        store.advance(200);
        assert_eq!(store.applications[&id].status, ApplyStatus::CreateSuccess);
        assert_eq!(store.applications[&id].created, ["dev1", "dev2"]);
        assert_eq!(store.devices["pk"].by_name.len(), 2);
    }

    #[test]
    fn existing_names_fail_the_check_and_forced_names_fail_creation() {
        let mut store = Store::new();
        store.add_product(product("pk"));
        store.create_device("pk", "dev1", None, 0);
        let id = store.start_application("pk", names(&["dev1", "dev2"]), 0);
        store.advance(0);
        let application = &store.applications[&id];
        assert_eq!(application.status, ApplyStatus::CheckFailed);
        assert_eq!(application.valid, ["dev2"]);
        assert_eq!(application.invalid[0].device_name, "dev1");

        store.fail_create.insert("dev4".into());
        let id = store.start_application("pk", names(&["dev3", "dev4"]), 0);
        store.advance(0);
        store.begin_create(id, 0);
        store.advance(0);
        let application = &store.applications[&id];
        assert_eq!(application.status, ApplyStatus::CreateFailed);
        assert_eq!(application.created, ["dev3"]);
        assert_eq!(application.invalid[0].device_name, "dev4");
    }
}
