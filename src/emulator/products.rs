//! Product handlers beyond create and read: UpdateProduct (name and description only),
//! DeleteProduct (refused while devices remain) and product tags (at most 10).

use super::Reject;
use super::handlers::{Answer, Context, answer, product, read};
use super::store::Store;
use crate::wire::codes;
use crate::wire::ops::{
    CreateProductTags, DeleteProduct, DeleteProductTags, Empty, ListProductTags,
    ListProductTagsResponse, ProductTag, ProductTagList, ProductTagsResponse, UpdateProduct,
    UpdateProductTags,
};
use crate::wire::params::Params;
use crate::wire::{self, Action};

/// Runs one product action.
pub(super) fn dispatch(
    action: Action,
    store: &mut Store,
    ctx: &Context<'_>,
    params: &Params,
) -> Result<Answer, Reject> {
    match action {
        Action::UpdateProduct => update(store, ctx, read(params)?),
        Action::DeleteProduct => {
            let request: DeleteProduct = read(params)?;
            product(store, ctx, &request.product_key)?;
            if store
                .devices
                .get(&request.product_key)
                .is_some_and(|d| !d.by_name.is_empty())
            {
                return Err(Reject::business(
                    codes::PRODUCT_HAS_DEVICES,
                    "The product still has devices: delete them first.",
                ));
            }
            store.products.remove(&request.product_key);
            store.devices.remove(&request.product_key);
            store
                .applications
                .retain(|_, a| a.product_key != request.product_key);
            answer(&Empty {}, true)
        }
        Action::CreateProductTags => {
            let request: CreateProductTags = read(params)?;
            write_tags(store, ctx, &request.product_key, request.tags, true)
        }
        Action::UpdateProductTags => {
            let request: UpdateProductTags = read(params)?;
            write_tags(store, ctx, &request.product_key, request.tags, false)
        }
        Action::DeleteProductTags => {
            let request: DeleteProductTags = read(params)?;
            let tags = tags_mut(store, ctx, &request.product_key)?;
            let before = tags.len();
            for key in &request.keys {
                tags.remove(key);
            }
            let changed = tags.len() != before;
            answer(&Empty {}, changed)
        }
        Action::ListProductTags => {
            let request: ListProductTags = read(params)?;
            let tags = product(store, ctx, &request.product_key)?
                .tags
                .iter()
                .map(|(key, value)| ProductTag {
                    tag_key: key.clone(),
                    tag_value: value.clone(),
                })
                .collect();
            answer(
                &ListProductTagsResponse {
                    data: ProductTagList { tags },
                },
                false,
            )
        }
        other => Err(Reject::internal(&format!(
            "{other} is not a product action"
        ))),
    }
}

fn tags_mut<'s>(
    store: &'s mut Store,
    ctx: &Context<'_>,
    key: &str,
) -> Result<&'s mut std::collections::BTreeMap<String, String>, Reject> {
    product(store, ctx, key)?;
    store
        .products
        .get_mut(key)
        .map(|p| &mut p.tags)
        .ok_or_else(|| Reject::internal("the product went away"))
}

fn update(store: &mut Store, ctx: &Context<'_>, request: UpdateProduct) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    if !wire::is_valid_product_or_group_name(&request.product_name) {
        return Err(Reject::business(
            codes::INVALID_PRODUCT_NAME,
            "The product name must be 4-30 characters of letters, digits and _ (CJK counting 2).",
        ));
    }
    if let Some(description) = &request.description
        && description.chars().count() > wire::MAX_DESCRIPTION_CHARS
    {
        return Err(Reject::business(
            codes::PRODUCT_DESC_TOO_LONG,
            "The description is longer than 100 characters.",
        ));
    }
    if store.products.values().any(|p| {
        p.key != request.product_key
            && p.name == request.product_name
            && p.instance.as_deref() == ctx.instance
    }) {
        return Err(Reject::business(
            codes::PRODUCT_NAME_EXISTS,
            "The product name is already used.",
        ));
    }
    let Some(product) = store.products.get_mut(&request.product_key) else {
        return Err(Reject::internal("the product went away"));
    };
    product.name = request.product_name;
    if let Some(description) = request.description {
        product.description = description;
    }
    answer(&Empty {}, true)
}

/// CreateProductTags (`create`: a key the product has is refused) or UpdateProductTags (a key it
/// lacks is refused); refused tags come back in `InvalidProductTags`, the rest are written.
fn write_tags(
    store: &mut Store,
    ctx: &Context<'_>,
    key: &str,
    tags: Vec<ProductTag>,
    create: bool,
) -> Result<Answer, Reject> {
    if tags.len() > wire::MAX_PRODUCT_TAGS {
        return Err(Reject::business(
            codes::PRODUCT_TAGS_EXCEEDED,
            "At most 10 tags per call.",
        ));
    }
    let held = tags_mut(store, ctx, key)?;
    let (valid, invalid): (Vec<ProductTag>, Vec<ProductTag>) = tags.into_iter().partition(|t| {
        wire::is_valid_tag_key(&t.tag_key) && held.contains_key(&t.tag_key) != create
    });
    let new_keys = valid
        .iter()
        .filter(|t| !held.contains_key(&t.tag_key))
        .count();
    if held.len() + new_keys > wire::MAX_PRODUCT_TAGS {
        return Err(Reject::business(
            codes::PRODUCT_TAGS_EXCEEDED,
            "A product holds at most 10 tags.",
        ));
    }
    let changed = !valid.is_empty();
    for tag in valid {
        held.insert(tag.tag_key, tag.tag_value);
    }
    answer(
        &ProductTagsResponse {
            invalid_product_tags: (!invalid.is_empty()).then_some(ProductTagList { tags: invalid }),
        },
        changed,
    )
}
