//! Products: read, list, create.

use serde::{Deserialize, Serialize};

use super::{Empty, Operation, read_product_key};
use crate::secret::Secret;
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

/// QueryProduct: one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProduct {
    /// The product.
    pub product_key: String,
}

/// A product as QueryProduct returns it (18 fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductData {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// The product secret.
    #[serde(default)]
    pub product_secret: Secret,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `iothub_senior` or `iothub`.
    #[serde(default)]
    pub aliyun_commodity_code: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// Network type code.
    #[serde(default)]
    pub net_type: Option<i32>,
    /// Verification type.
    #[serde(default)]
    pub validate_type: i32,
    /// Devices in the product.
    #[serde(default)]
    pub device_count: u64,
    /// Creation, epoch ms.
    #[serde(default)]
    pub gmt_create: i64,
    /// `DEVELOPMENT_STATUS` or `RELEASE_STATUS`.
    #[serde(default)]
    pub product_status: String,
    /// ID² authentication.
    #[serde(default)]
    pub id2: bool,
    /// Whether the caller owns it.
    #[serde(default)]
    pub owner: bool,
    /// Protocol type.
    #[serde(default)]
    pub protocol_type: Option<String>,
    /// Category key.
    #[serde(default)]
    pub category_key: Option<String>,
    /// Category name.
    #[serde(default)]
    pub category_name: Option<String>,
}

/// QueryProduct's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryProductResponse {
    /// The product.
    pub data: ProductData,
}

impl Operation for QueryProduct {
    const ACTION: Action = Action::QueryProduct;
    type Response = QueryProductResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
        })
    }
}

/// QueryProductList: a page of products, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProductList {
    /// Page, from 1.
    pub current_page: u32,
    /// Page size, 1–200.
    pub page_size: u32,
    /// Filter by edition.
    pub aliyun_commodity_code: Option<String>,
}

/// A product in a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductInfo {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// Devices in the product.
    #[serde(default)]
    pub device_count: u64,
    /// Creation, epoch ms.
    #[serde(default)]
    pub gmt_create: i64,
}

/// `{"ProductInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductInfoList {
    /// The products.
    #[serde(rename = "ProductInfo", default)]
    pub products: Vec<ProductInfo>,
}

/// QueryProductList's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductListData {
    /// The page.
    pub current_page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// How many products.
    pub total: u32,
    /// The products.
    #[serde(default)]
    pub list: ProductInfoList,
}

/// QueryProductList's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryProductListResponse {
    /// The data.
    pub data: ProductListData,
}

impl Operation for QueryProductList {
    const ACTION: Action = Action::QueryProductList;
    type Response = QueryProductListResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("CurrentPage", &self.current_page);
        params.query("PageSize", &self.page_size);
        params.query_opt("AliyunCommodityCode", self.aliyun_commodity_code.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            current_page: params.required_int("CurrentPage")?,
            page_size: params.required_int("PageSize")?,
            aliyun_commodity_code: params.optional("AliyunCommodityCode").map(str::to_owned),
        })
    }
}

/// CreateProduct: a new product (not idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateProduct {
    /// The name, unique in the instance.
    pub product_name: String,
    /// 0 device, 1 gateway.
    pub node_type: i32,
    /// `iothub_senior` or `iothub` (default).
    pub aliyun_commodity_code: Option<String>,
    /// 0 custom, 1 Alink JSON (required with `iothub_senior`).
    pub data_format: Option<i32>,
    /// At most 100 characters.
    pub description: Option<String>,
    /// `secret` (default), `id2` or `x509`.
    pub auth_type: Option<String>,
    /// `WIFI`, `CELLULAR`, `ETHERNET` or `OTHER`.
    pub net_type: Option<String>,
    /// Gateway sub-device protocol.
    pub protocol_type: Option<String>,
    /// Publish the TSL model after creation.
    pub publish_auto: Option<bool>,
}

/// CreateProduct's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedProduct {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// The product secret.
    #[serde(default)]
    pub product_secret: Secret,
    /// Edition.
    #[serde(default)]
    pub aliyun_commodity_code: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// ID² authentication.
    #[serde(default)]
    pub id2: bool,
    /// Protocol type.
    #[serde(default)]
    pub protocol_type: Option<String>,
}

/// CreateProduct's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProductResponse {
    /// The new key (also in `Data`).
    pub product_key: String,
    /// The product.
    pub data: CreatedProduct,
}

impl Operation for CreateProduct {
    const ACTION: Action = Action::CreateProduct;
    type Response = CreateProductResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductName", &self.product_name);
        params.query("NodeType", &self.node_type);
        params.query_opt("AliyunCommodityCode", self.aliyun_commodity_code.as_ref());
        params.query_opt("DataFormat", self.data_format);
        params.query_opt("Description", self.description.as_ref());
        params.query_opt("AuthType", self.auth_type.as_ref());
        params.query_opt("NetType", self.net_type.as_ref());
        params.query_opt("ProtocolType", self.protocol_type.as_ref());
        params.query_opt("PublishAuto", self.publish_auto);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let text = |key: &str| params.optional(key).map(str::to_owned);
        Ok(Self {
            product_name: params.required("ProductName")?.to_owned(),
            node_type: params.required_int("NodeType")?,
            aliyun_commodity_code: text("AliyunCommodityCode"),
            data_format: params.int("DataFormat")?,
            description: text("Description"),
            auth_type: text("AuthType"),
            net_type: text("NetType"),
            protocol_type: text("ProtocolType"),
            publish_auto: params.bool("PublishAuto")?,
        })
    }
}

/// UpdateProduct: a new name and description (nothing else of a product can change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateProduct {
    /// The product.
    pub product_key: String,
    /// The name (required even when unchanged).
    pub product_name: String,
    /// The description.
    pub description: Option<String>,
}

impl Operation for UpdateProduct {
    const ACTION: Action = Action::UpdateProduct;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        params.query("ProductName", &self.product_name);
        params.query_opt("Description", self.description.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            product_name: params.required("ProductName")?.to_owned(),
            description: params.optional("Description").map(str::to_owned),
        })
    }
}

/// DeleteProduct: remove a product (refused while it has devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteProduct {
    /// The product.
    pub product_key: String,
}

impl Operation for DeleteProduct {
    const ACTION: Action = Action::DeleteProduct;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
        })
    }
}

/// One product tag.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductTag {
    /// The key.
    pub tag_key: String,
    /// The value.
    #[serde(default)]
    pub tag_value: String,
}

/// `{"ProductTag": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductTagList {
    /// The tags.
    #[serde(rename = "ProductTag", default)]
    pub tags: Vec<ProductTag>,
}

fn write_product_tags(tags: &[ProductTag], params: &mut WireParams) {
    for (index, tag) in tags.iter().enumerate() {
        params.query(format!("ProductTag.{}.TagKey", index + 1), &tag.tag_key);
        params.query(format!("ProductTag.{}.TagValue", index + 1), &tag.tag_value);
    }
}

fn read_product_tags(params: &Params) -> Result<Vec<ProductTag>, ParamError> {
    let tags = params
        .object_list("ProductTag")?
        .into_iter()
        .map(|mut fields| {
            Ok(ProductTag {
                tag_key: fields
                    .remove("TagKey")
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| ParamError::Missing("ProductTag.N.TagKey".to_owned()))?,
                tag_value: fields.remove("TagValue").unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    if tags.is_empty() {
        return Err(ParamError::Missing("ProductTag".to_owned()));
    }
    Ok(tags)
}

/// The answer of the product tag writes: tags that were refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductTagsResponse {
    /// Tags not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_product_tags: Option<ProductTagList>,
}

macro_rules! product_tags_op {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The product.
            pub product_key: String,
            /// The tags, at most 10 a call.
            pub tags: Vec<ProductTag>,
        }

        impl Operation for $name {
            const ACTION: Action = Action::$name;
            type Response = ProductTagsResponse;

            fn write(&self, params: &mut WireParams) {
                params.query("ProductKey", &self.product_key);
                write_product_tags(&self.tags, params);
            }

            fn read(params: &Params) -> Result<Self, ParamError> {
                Ok(Self {
                    product_key: read_product_key(params)?,
                    tags: read_product_tags(params)?,
                })
            }
        }
    };
}

product_tags_op!(
    /// CreateProductTags: add tags to a product (a key it has already is refused).
    CreateProductTags
);
product_tags_op!(
    /// UpdateProductTags: change the values of tags a product has.
    UpdateProductTags
);

/// DeleteProductTags: remove tags by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteProductTags {
    /// The product.
    pub product_key: String,
    /// The keys.
    pub keys: Vec<String>,
}

impl Operation for DeleteProductTags {
    const ACTION: Action = Action::DeleteProductTags;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        for (index, key) in self.keys.iter().enumerate() {
            params.query(format!("ProductTagKey.{}", index + 1), key);
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let keys = params.list("ProductTagKey")?;
        if keys.is_empty() {
            return Err(ParamError::Missing("ProductTagKey".to_owned()));
        }
        Ok(Self {
            product_key: read_product_key(params)?,
            keys,
        })
    }
}

/// ListProductTags: a product's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListProductTags {
    /// The product.
    pub product_key: String,
}

/// ListProductTags's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListProductTagsResponse {
    /// The tags.
    #[serde(default)]
    pub data: ProductTagList,
}

impl Operation for ListProductTags {
    const ACTION: Action = Action::ListProductTags;
    type Response = ListProductTagsResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
        })
    }
}
