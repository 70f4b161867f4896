//! The streams of source-facebook-marketing, shared by its migration plugins
//! (`source-facebook-marketing-v2`, `-v3`, `-v3-1`): every version from 1.x to 3.1.0 has the
//! same 30 built-in streams (offline discover of 1.4.2, 2.0.0, 2.1.9, 3.0.0 and 3.1.0), and
//! every version makes a stream of each custom insights report of the config. Each plugin
//! keeps what its own breaking change is about.

use cutover_plugin::catalog::KnownStreams;
use cutover_plugin::discovered::Discovered;
use cutover_plugin::{Connection, Migration, Outcome, Result};

/// The connector, as a manifest names it.
pub const CONNECTOR: &str = "airbyte/source-facebook-marketing";

/// The built-in insights streams. Every one reads `schemas/ads_insights.json`, which is also
/// the base of every custom insights stream's schema.
pub const INSIGHTS: &[&str] = &[
    "ads_insights",
    "ads_insights_age_and_gender",
    "ads_insights_country",
    "ads_insights_region",
    "ads_insights_dma",
    "ads_insights_platform_and_device",
    "ads_insights_action_type",
    "ads_insights_action_carousel_card",
    "ads_insights_action_conversion_device",
    "ads_insights_action_product_id",
    "ads_insights_action_reaction",
    "ads_insights_action_video_sound",
    "ads_insights_action_video_type",
    "ads_insights_delivery_device",
    "ads_insights_delivery_platform",
    "ads_insights_delivery_platform_and_device_platform",
    "ads_insights_demographics_age",
    "ads_insights_demographics_country",
    "ads_insights_demographics_dma_region",
    "ads_insights_demographics_gender",
];

/// The other built-in streams.
pub const OTHER_STREAMS: &[&str] = &[
    "ad_account",
    "ad_sets",
    "ads",
    "ad_creatives",
    "campaigns",
    "custom_conversions",
    "custom_audiences",
    "images",
    "videos",
    "activities",
];

/// Whether `name` is a built-in stream.
pub fn is_builtin(name: &str) -> bool {
    INSIGHTS.contains(&name) || OTHER_STREAMS.contains(&name)
}

/// The built-in streams and the config's custom insights (`custom_insights`, each a stream
/// named `camel_to_snake("Custom" + name)`, as the connector's Python CDK names it).
pub const KNOWN: KnownStreams<'static> = KnownStreams {
    connector: "source-facebook-marketing",
    builtin: is_builtin,
    reports_key: "custom_insights",
    report_class_prefix: "Custom",
};

/// Refuses a connection that configures a stream the connector does not have; returns the
/// stream names of its custom insights.
pub fn custom_insights(connection: &Connection) -> Result<Vec<String>> {
    KNOWN.check(&connection.config, &connection.catalog)
}

/// `P::migrate`, then every built-in stream conformed to the real catalog of the version `P`
/// produces (`target`): schema, sync modes, cursor and key as that version discovers them,
/// whether the version's own change touched the stream or not (minors between breaking
/// versions change descriptions and fields too). The config's custom insights are left as
/// `P` made them: `target` was discovered with other custom insights, which may share a
/// name with the user's.
pub fn migrate_and_conform<P: Migration>(
    connection: Connection,
    target: &'static Discovered,
) -> Result<Outcome> {
    let customs = custom_insights(&connection)?;
    let mut out = P::migrate(connection)?;
    out.conform_to_except(target, &customs)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOGS: [&str; 5] = [
        include_str!("../../../../tests/fixtures/source-facebook-marketing/1.4.2/catalog.json"),
        include_str!("../../../../tests/fixtures/source-facebook-marketing/2.0.0/catalog.json"),
        include_str!("../../../../tests/fixtures/source-facebook-marketing/2.1.9/catalog.json"),
        include_str!("../../../../tests/fixtures/source-facebook-marketing/3.0.0/catalog.json"),
        include_str!("../../../../tests/fixtures/source-facebook-marketing/3.1.0/catalog.json"),
    ];

    /// Every version discovers exactly the built-in streams plus the two custom insights
    /// its discover was configured with.
    #[test]
    fn the_built_in_streams_are_every_version_s() {
        for catalog in CATALOGS {
            let catalog: cutover_plugin::Value =
                cutover_plugin::serde_json::from_str(catalog).unwrap();
            let mut names: Vec<&str> = catalog["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            names.sort_unstable();
            let mut expected: Vec<&str> = INSIGHTS
                .iter()
                .chain(OTHER_STREAMS)
                .copied()
                .chain(["customasset_report", "customleads"])
                .collect();
            expected.sort_unstable();
            assert_eq!(names, expected);
        }
    }
}
