//! The actions: search, browse, read and upload documents.

use crate::graph::{self, BASE, segment};
use serde::{Deserialize, Serialize};
use switchboard_sdk::http;
use switchboard_sdk::{Action, Error, JsonSchema, Result};

const MIB: u32 = 1 << 20;

fn default_limit() -> u32 {
    10
}

fn default_item_limit() -> u32 {
    100
}

fn default_max_bytes() -> u32 {
    MIB
}

/// A document as the actions return it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Document {
    pub id: String,
    pub name: String,
    pub web_url: String,
    pub size: u64,
    pub is_folder: bool,
    pub mime_type: Option<String>,
    pub last_modified: String,
    pub drive_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DriveItem {
    id: String,
    name: String,
    #[serde(default)]
    web_url: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    last_modified_date_time: String,
    folder: Option<serde_json::Value>,
    file: Option<File>,
    parent_reference: Option<ParentReference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    mime_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParentReference {
    drive_id: Option<String>,
}

impl From<DriveItem> for Document {
    fn from(i: DriveItem) -> Self {
        Document {
            is_folder: i.folder.is_some(),
            mime_type: i.file.and_then(|f| f.mime_type),
            drive_id: i.parent_reference.and_then(|p| p.drive_id),
            id: i.id,
            name: i.name,
            web_url: i.web_url,
            size: i.size,
            last_modified: i.last_modified_date_time,
        }
    }
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// Words to find (KQL allowed, e.g. `budget filetype:txt`).
    #[schemars(length(min = 1))]
    pub query: String,
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 50))]
    pub limit: u32,
    /// Results to skip, for the next page.
    #[serde(default)]
    #[schemars(range(max = 1000))]
    pub offset: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Hit {
    pub document: Document,
    pub summary: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    pub total: u64,
    pub more_available: bool,
    pub hits: Vec<Hit>,
}

pub struct Search;

impl Action for Search {
    const NAME: &'static str = "search";
    const DESCRIPTION: &'static str =
        "Search the documents you can see in SharePoint and OneDrive.";
    const CREDIT_COST: u32 = 1;
    type Input = SearchInput;
    type Output = SearchOutput;

    fn run(input: SearchInput) -> Result<SearchOutput> {
        #[derive(Deserialize)]
        struct Answer {
            value: Vec<Container>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Container {
            hits_containers: Vec<Hits>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Hits {
            #[serde(default)]
            total: u64,
            #[serde(default)]
            more_results_available: bool,
            #[serde(default)]
            hits: Vec<RawHit>,
        }
        #[derive(Deserialize)]
        struct RawHit {
            #[serde(default)]
            summary: String,
            resource: DriveItem,
        }
        let body = serde_json::json!({"requests": [{
            "entityTypes": ["driveItem"],
            "query": {"queryString": input.query},
            "from": input.offset,
            "size": input.limit.clamp(1, 50),
        }]});
        let answer: Answer = graph::call(http::post(&format!("{BASE}/search/query")).json(&body)?)?;
        let container = answer
            .value
            .into_iter()
            .flat_map(|c| c.hits_containers)
            .next();
        Ok(match container {
            Some(c) => SearchOutput {
                total: c.total,
                more_available: c.more_results_available,
                hits: c
                    .hits
                    .into_iter()
                    .map(|h| Hit {
                        summary: h.summary,
                        document: h.resource.into(),
                    })
                    .collect(),
            },
            None => SearchOutput {
                total: 0,
                more_available: false,
                hits: Vec::new(),
            },
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitesInput {
    /// Words in the site's name or description.
    #[schemars(length(min = 1))]
    pub query: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Site {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub web_url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SitesOutput {
    pub sites: Vec<Site>,
}

pub struct ListSites;

impl Action for ListSites {
    const NAME: &'static str = "list_sites";
    const DESCRIPTION: &'static str = "Find SharePoint sites by name.";
    type Input = SitesInput;
    type Output = SitesOutput;

    fn run(input: SitesInput) -> Result<SitesOutput> {
        let sites: Collection<Site> =
            graph::call(http::get(&format!("{BASE}/sites")).query("search", &input.query))?;
        Ok(SitesOutput { sites: sites.value })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrivesInput {
    pub site_id: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Drive {
    pub id: String,
    pub name: String,
    pub drive_type: String,
    pub web_url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DrivesOutput {
    pub drives: Vec<Drive>,
}

pub struct ListDrives;

impl Action for ListDrives {
    const NAME: &'static str = "list_drives";
    const DESCRIPTION: &'static str = "The document libraries of a site.";
    type Input = DrivesInput;
    type Output = DrivesOutput;

    fn run(input: DrivesInput) -> Result<DrivesOutput> {
        let drives: Collection<Drive> =
            graph::get(&format!("/sites/{}/drives", segment(&input.site_id)))?;
        Ok(DrivesOutput {
            drives: drives.value,
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemsInput {
    pub drive_id: String,
    /// A folder's id; the library's top level when absent.
    pub folder_id: Option<String>,
    /// Items to return at most, following pages as needed.
    #[serde(default = "default_item_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemsOutput {
    pub items: Vec<Document>,
    /// More items exist beyond `limit`.
    pub truncated: bool,
}

pub struct ListItems;

impl Action for ListItems {
    const NAME: &'static str = "list_items";
    const DESCRIPTION: &'static str = "The files and folders in a folder.";
    type Input = ItemsInput;
    type Output = ItemsOutput;

    fn run(input: ItemsInput) -> Result<ItemsOutput> {
        let limit = input.limit.clamp(1, 1000) as usize;
        let drive = segment(&input.drive_id);
        let path = match &input.folder_id {
            Some(folder) => format!("/drives/{drive}/items/{}/children", segment(folder)),
            None => format!("/drives/{drive}/root/children"),
        };
        let mut page: Collection<DriveItem> = graph::call(
            http::get(&format!("{BASE}{path}")).query("$top", &limit.min(200).to_string()),
        )?;
        let mut items: Vec<Document> = Vec::new();
        loop {
            items.extend(page.value.into_iter().map(Document::from));
            match page.next_link {
                Some(next) if items.len() < limit => page = graph::get_url(&next)?,
                next => {
                    let truncated = items.len() > limit || next.is_some();
                    items.truncate(limit);
                    return Ok(ItemsOutput { items, truncated });
                }
            }
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    pub drive_id: String,
    pub item_id: String,
    /// Refuse files larger than this.
    #[serde(default = "default_max_bytes")]
    #[schemars(range(min = 1, max = 4194304))]
    pub max_bytes: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentOutput {
    pub document: Document,
    pub text: String,
}

pub struct GetDocument;

impl Action for GetDocument {
    const NAME: &'static str = "get_document";
    const DESCRIPTION: &'static str = "A document's details and its text.";
    const CREDIT_COST: u32 = 1;
    type Input = DocumentInput;
    type Output = DocumentOutput;

    fn run(input: DocumentInput) -> Result<DocumentOutput> {
        let item_path = format!(
            "/drives/{}/items/{}",
            segment(&input.drive_id),
            segment(&input.item_id)
        );
        let document: Document = graph::get::<DriveItem>(&item_path)?.into();
        if document.is_folder {
            return Err(Error::InvalidInput(format!(
                "`{}` is a folder; list its items instead",
                document.name
            )));
        }
        if document.size > u64::from(input.max_bytes) {
            return Err(Error::InvalidInput(format!(
                "`{}` is {} bytes, over max_bytes ({})",
                document.name, document.size, input.max_bytes
            )));
        }
        let textual = document
            .mime_type
            .as_deref()
            .is_some_and(|m| m.starts_with("text/") || m == "application/json");
        if !textual {
            return Err(Error::InvalidInput(format!(
                "`{}` is not a text document ({})",
                document.name,
                document.mime_type.as_deref().unwrap_or("unknown type")
            )));
        }
        // Graph answers 302 to a pre-authenticated SharePoint URL; the host
        // follows it without the access token.
        let response = graph::send(http::get(&format!("{BASE}{item_path}/content")))?;
        let text = String::from_utf8(response.body)
            .map_err(|_| Error::Upstream(format!("`{}` is not valid UTF-8 text", document.name)))?;
        Ok(DocumentOutput { document, text })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    pub drive_id: String,
    pub folder_id: String,
    /// The file name, e.g. `Brief.txt`.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    pub text: String,
}

pub struct UploadDocument;

impl Action for UploadDocument {
    const NAME: &'static str = "upload_document";
    const DESCRIPTION: &'static str =
        "Save a text document into a folder (needs a write permission).";
    const CREDIT_COST: u32 = 1;
    type Input = UploadInput;
    type Output = Document;

    fn run(input: UploadInput) -> Result<Document> {
        if input.name.contains(['/', '\\', ':']) {
            return Err(Error::InvalidInput(
                "a file name cannot contain /, \\ or :".into(),
            ));
        }
        let url = format!(
            "{BASE}/drives/{}/items/{}:/{}:/content",
            segment(&input.drive_id),
            segment(&input.folder_id),
            segment(&input.name)
        );
        let item: DriveItem = graph::call(
            http::put(&url)
                .header("content-type", "text/plain; charset=utf-8")
                .body(input.text.into_bytes()),
        )?;
        Ok(item.into())
    }
}
