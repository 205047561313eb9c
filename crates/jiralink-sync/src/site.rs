//! Which Jira site a credential reaches, as the store keys it: Cloud by its cloudId, Data Center by
//! its server's application id (the Application Links manifest's `id`), so that rows of two sites
//! never share a key and two credentials of one site share its rows.

use jiralink_api::models::ServerInfo;
use jiralink_api::Client;
use jiralink_store::SiteRow;

use crate::SyncError;

/// The site behind `client`, from its `serverInfo` answer plus one request: Cloud's
/// `/_edge/tenant_info` (none through the gateway, whose path already names the cloudId), Data
/// Center's `/rest/applinks/1.0/manifest`. A Data Center server that does not serve the manifest
/// (a proxy in front that blocks it) is keyed by its base URL instead (`url:` + `baseUrl`).
pub async fn resolve(client: &Client, server_info: &ServerInfo) -> Result<SiteRow, SyncError> {
    let cloud = server_info.is_cloud();
    let base_url = server_info
        .base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| client.site().to_string().trim_end_matches('/').to_owned());
    let mut site = SiteRow {
        deployment: if cloud { "cloud" } else { "datacenter" }.to_owned(),
        base_url: base_url.clone(),
        title: server_info.server_title.clone(),
        version: server_info.version.clone(),
        ..SiteRow::default()
    };
    if cloud {
        let cloud_id = match client.cloud_id() {
            Some(id) => id.to_owned(),
            None => client.tenant_info().await?.cloud_id.ok_or_else(|| {
                    jiralink_api::Diagnosis::new(jiralink_api::Code::NotJira)
                        .with_cause("The Cloud site did not name its cloudId at /_edge/tenant_info, which keys its rows in the store.")
                        .with_fix("Check that the URL is the Jira Cloud site itself (https://YOUR-SITE.atlassian.net).")
                })?,
        };
        site.site_id = cloud_id.clone();
        site.cloud_id = Some(cloud_id);
    } else {
        let server_id = match client.applinks_manifest().await {
            Ok(manifest) => manifest.id,
            Err(e) => {
                tracing::warn!(error = %e, "no Application Links manifest: the server is keyed by its base URL");
                None
            }
        };
        site.site_id = match &server_id {
            Some(id) => id.clone(),
            None => format!("url:{base_url}"),
        };
        site.server_id = server_id;
    }
    Ok(site)
}
