//! The one pager: [`Pages`] follows every way Jira pages a list (startAt with `total` or
//! `isLast`, a bare list whose short page is the last, `nextPageToken`, and the worklog feeds'
//! `since`/`until`/`lastPage`), always by what the server returned, never by the size asked for.

use futures_util::stream::{self, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::client::{Client, Error};
use crate::models::{ListPage, WorklogFeedPage};

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// startAt paging: the next offset, and the longest page so far (a server may serve fewer
    /// than asked for: the longest page shows its cap).
    Offset { start: usize, longest: usize },
    /// Token paging: none for the first page.
    Token(Option<String>),
    /// A worklog feed: Unix milliseconds.
    Since(i64),
}

/// A page of a paged list: its items, and where the next page starts (`None`: this was the last).
pub trait Page: DeserializeOwned + Send + 'static {
    type Item;
    /// The cursor after this page, which was read at `at`.
    fn next(&self, at: &Cursor) -> Option<Cursor>;
    fn into_items(self) -> Vec<Self::Item>;
    /// How many items the page holds.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Jira's count of all items, where the page gives it.
    fn total(&self) -> Option<u64> {
        None
    }
}

/// The startAt rule: an empty page is the last; else `isLast` where the page has it, `total`
/// where it has that, and a page shorter than the longest so far otherwise (a bare list).
fn offset_next(at: &Cursor, n: usize, total: Option<u64>, is_last: Option<bool>) -> Option<Cursor> {
    let Cursor::Offset { start, longest } = *at else {
        return None;
    };
    let seen = start + n;
    let last = n == 0
        || match (is_last, total) {
            (Some(last), _) => last,
            (None, Some(total)) => seen as u64 >= total,
            (None, None) => n < longest,
        };
    (!last).then_some(Cursor::Offset {
        start: seen,
        longest: longest.max(n),
    })
}

/// The token rule: the next page's token, unless the page says it is the last.
fn token_next(token: &Option<String>, is_last: Option<bool>) -> Option<Cursor> {
    match token {
        Some(t) if !is_last.unwrap_or(false) => Some(Cursor::Token(Some(t.clone()))),
        _ => None,
    }
}

impl<T: DeserializeOwned + Send + 'static> Page for Vec<T> {
    type Item = T;
    fn next(&self, at: &Cursor) -> Option<Cursor> {
        offset_next(at, self.len(), None, None)
    }
    fn into_items(self) -> Vec<T> {
        self
    }
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
}

/// startAt lists page by `isLast` or `total`; `search/jql` and `changelog/bulkfetch` by token.
impl<T: DeserializeOwned + Send + 'static> Page for ListPage<T> {
    type Item = T;
    fn next(&self, at: &Cursor) -> Option<Cursor> {
        match at {
            Cursor::Token(_) => token_next(&self.next_page_token, self.is_last),
            _ => offset_next(at, self.items.len(), self.total, self.is_last),
        }
    }
    fn into_items(self) -> Vec<T> {
        self.items
    }
    fn len(&self) -> usize {
        self.items.len()
    }
    fn total(&self) -> Option<u64> {
        self.total
    }
}

impl WorklogFeedPage {
    /// The time this page covers up to: its `until`, or its last entry's time (or `since` when it
    /// has none), whichever is later.
    pub fn until(&self, since: i64) -> i64 {
        let latest = self.latest().unwrap_or(since);
        self.until.unwrap_or(latest).max(latest)
    }

    /// The latest entry's time.
    pub fn latest(&self) -> Option<i64> {
        self.values.iter().filter_map(|v| v.updated_time).max()
    }
}

/// The feeds go on from the page's `until` while `lastPage` is false (and time advances).
impl Page for WorklogFeedPage {
    type Item = crate::models::WorklogChange;
    fn next(&self, at: &Cursor) -> Option<Cursor> {
        let Cursor::Since(since) = *at else {
            return None;
        };
        let until = self.until(since);
        (!self.last_page.unwrap_or(true) && until > since).then_some(Cursor::Since(until))
    }
    fn into_items(self) -> Vec<Self::Item> {
        self.values
    }
    fn len(&self) -> usize {
        self.values.len()
    }
}

/// What is asked for, before the cursor is applied.
#[derive(Debug, Clone)]
enum Request {
    /// A GET path (with or without a query), and the page size asked for on startAt pages.
    Get {
        path: String,
        max_results: Option<usize>,
    },
    /// A POST with its JSON body (which names its own `maxResults`).
    Post { path: String, body: Value },
}

/// A paged list being read: page by page ([`Pages::next_page`]), all at once ([`Pages::all`]),
/// or, for startAt lists with a total, in parallel ranges ([`Pages::all_parallel`]).
#[derive(Debug)]
pub struct Pages<'c, P> {
    client: &'c Client,
    request: Request,
    cursor: Option<Cursor>,
    _page: std::marker::PhantomData<fn() -> P>,
}

impl<'c, P: Page> Pages<'c, P> {
    /// A startAt list read with GET, `max_results` a page (`None`: the server's default).
    pub fn get(client: &'c Client, path: impl Into<String>, max_results: Option<usize>) -> Self {
        Self::new(
            client,
            Request::Get {
                path: path.into(),
                max_results,
            },
            Cursor::Offset {
                start: 0,
                longest: 0,
            },
        )
    }

    /// A startAt list read with POST (`startAt` is set in `body`).
    pub fn post(client: &'c Client, path: impl Into<String>, body: Value) -> Self {
        Self::new(
            client,
            Request::Post {
                path: path.into(),
                body,
            },
            Cursor::Offset {
                start: 0,
                longest: 0,
            },
        )
    }

    /// A token-paged list read with POST (`nextPageToken` is set in `body` after the first page).
    pub fn post_token(client: &'c Client, path: impl Into<String>, body: Value) -> Self {
        Self::new(
            client,
            Request::Post {
                path: path.into(),
                body,
            },
            Cursor::Token(None),
        )
    }

    /// A worklog feed read with GET from `since` (Unix milliseconds).
    pub fn feed(client: &'c Client, path: impl Into<String>, since: i64) -> Self {
        Self::new(
            client,
            Request::Get {
                path: path.into(),
                max_results: None,
            },
            Cursor::Since(since),
        )
    }

    fn new(client: &'c Client, request: Request, cursor: Cursor) -> Self {
        Pages {
            client,
            request,
            cursor: Some(cursor),
            _page: std::marker::PhantomData,
        }
    }

    /// Where the next page starts; `None` once the last page was read.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<P>, Error> {
        let Some(at) = self.cursor.take() else {
            return Ok(None);
        };
        let page: P = self.fetch(&at).await?;
        self.cursor = page.next(&at);
        Ok(Some(page))
    }

    async fn fetch(&self, at: &Cursor) -> Result<P, Error> {
        match &self.request {
            Request::Get { path, max_results } => {
                let sep = if path.contains('?') { '&' } else { '?' };
                let url = match at {
                    Cursor::Offset { start, .. } => match max_results {
                        Some(n) => format!("{path}{sep}startAt={start}&maxResults={n}"),
                        None => format!("{path}{sep}startAt={start}"),
                    },
                    Cursor::Token(None) => path.clone(),
                    Cursor::Token(Some(t)) => format!(
                        "{path}{sep}nextPageToken={}",
                        percent_encoding::utf8_percent_encode(
                            t,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ),
                    Cursor::Since(since) => format!("{path}{sep}since={since}"),
                };
                self.client.get_typed(&url).await
            }
            Request::Post { path, body } => {
                let mut body = body.clone();
                if let Some(fields) = body.as_object_mut() {
                    match at {
                        Cursor::Offset { start, .. } => {
                            fields.insert("startAt".into(), json!(start));
                        }
                        Cursor::Token(Some(t)) => {
                            fields.insert("nextPageToken".into(), json!(t));
                        }
                        Cursor::Token(None) => {}
                        Cursor::Since(since) => {
                            fields.insert("since".into(), json!(since));
                        }
                    }
                }
                self.client.post_typed(path, &body).await
            }
        }
    }

    /// Every item of every page.
    pub async fn all(mut self) -> Result<Vec<P::Item>, Error> {
        let mut out = Vec::new();
        while let Some(page) = self.next_page().await? {
            out.extend(page.into_items());
        }
        Ok(out)
    }

    /// The pages as a stream.
    pub fn stream(self) -> impl futures_util::Stream<Item = Result<P, Error>> + 'c
    where
        P: 'c,
    {
        stream::unfold(Some(self), |pages| async move {
            let mut pages = pages?;
            match pages.next_page().await {
                Ok(Some(page)) => Some((Ok(page), Some(pages))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Every item of a startAt list with a total, and that total: the first page gives the total
    /// and the server's page size (whatever was asked for); the other ranges are read in
    /// parallel, `concurrency` at a time, each followed page by page until covered.
    pub async fn all_parallel(
        mut self,
        concurrency: usize,
    ) -> Result<(Vec<P::Item>, usize), Error> {
        let first = match self.next_page().await? {
            Some(p) => p,
            None => return Ok((Vec::new(), 0)),
        };
        let total = first.total().unwrap_or(0) as usize;
        let mut items = first.into_items();
        let page = items.len();
        if page == 0 || page >= total || self.cursor.is_none() {
            return Ok((items, total));
        }
        let ranges: Vec<(usize, usize)> = (page..total)
            .step_by(page)
            .map(|lo| (lo, (lo + page).min(total)))
            .collect();
        let (client, request) = (self.client, &self.request);
        let mut rest = stream::iter(ranges.into_iter().map(|(lo, hi)| async move {
            let mut range = Pages::<P>::new(
                client,
                request.clone(),
                Cursor::Offset {
                    start: lo,
                    longest: page,
                },
            );
            let mut got = Vec::new();
            let mut start = lo;
            while start < hi {
                let Some(p) = range.next_page().await? else {
                    break;
                };
                let n = p.len();
                if n == 0 {
                    break;
                }
                got.extend(p.into_items().into_iter().take(hi - start));
                start += n;
            }
            Ok::<_, Error>(got)
        }))
        .buffered(concurrency.max(1));
        while let Some(r) = rest.next().await {
            items.extend(r?);
        }
        Ok((items, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ChangelogPage, CommentPage, IssuePage, IssueRef, User, ValuesPage};

    fn page<P: Page>(json: &str) -> P {
        serde_json::from_str(json).expect("the page is JSON")
    }

    fn at(start: usize, longest: usize) -> Cursor {
        Cursor::Offset { start, longest }
    }

    #[test]
    fn start_at_pages_end_on_is_last_then_total_then_a_short_page() {
        // isLast wins over a total that says more.
        let p: ValuesPage<IssueRef> = page(r#"{"values":[{"id":"1"}],"isLast":true,"total":9}"#);
        assert_eq!(p.next(&at(0, 0)), None);
        let p: ValuesPage<IssueRef> = page(r#"{"values":[{"id":"1"}],"isLast":false}"#);
        assert_eq!(p.next(&at(0, 0)), Some(at(1, 1)));
        // A total: on until it is reached, whatever page size the server chose.
        let p: CommentPage = page(r#"{"comments":[{"id":"1"},{"id":"2"}],"total":5}"#);
        assert_eq!(p.next(&at(2, 2)), Some(at(4, 2)));
        assert_eq!(p.next(&at(3, 2)), None);
        // A bare list: a page shorter than the longest so far is the last; an empty one always.
        let users: Vec<User> = page(r#"[{"key":"a"},{"key":"b"}]"#);
        assert_eq!(users.next(&at(0, 0)), Some(at(2, 2)));
        assert_eq!(users.next(&at(2, 3)), None);
        let none: Vec<User> = page("[]");
        assert_eq!(none.next(&at(0, 0)), None);
    }

    #[test]
    fn token_pages_follow_the_token_until_is_last_or_none() {
        let p: IssuePage<IssueRef> = page(r#"{"issues":[],"nextPageToken":"t2"}"#);
        let first = Cursor::Token(None);
        assert_eq!(p.next(&first), Some(Cursor::Token(Some("t2".into()))));
        let p: IssuePage<IssueRef> = page(r#"{"issues":[],"nextPageToken":"t3","isLast":true}"#);
        assert_eq!(p.next(&first), None);
        let p: ChangelogPage = page(r#"{"issueChangeLogs":[]}"#);
        assert_eq!(p.next(&first), None);
        // Data Center's search pages by startAt and total.
        let p: IssuePage<IssueRef> = page(r#"{"issues":[{"id":"1"}],"total":3}"#);
        assert_eq!(p.next(&at(0, 0)), Some(at(1, 1)));
    }

    #[test]
    fn worklog_feeds_go_on_from_until_while_not_the_last_page_and_time_advances() {
        let p: WorklogFeedPage = page(
            r#"{"values":[{"worklogId":1,"updatedTime":150}],"since":100,"until":180,"lastPage":false}"#,
        );
        assert_eq!(p.next(&Cursor::Since(100)), Some(Cursor::Since(180)));
        // No until: the last entry's time.
        let p: WorklogFeedPage =
            page(r#"{"values":[{"worklogId":1,"updatedTime":150}],"lastPage":false}"#);
        assert_eq!(p.until(100), 150);
        // A page that does not move time forward ends the feed rather than loop.
        let p: WorklogFeedPage = page(r#"{"values":[],"until":100,"lastPage":false}"#);
        assert_eq!(p.next(&Cursor::Since(100)), None);
        let p: WorklogFeedPage = page(r#"{"values":[],"until":300,"lastPage":true}"#);
        assert_eq!(p.next(&Cursor::Since(100)), None);
    }
}
