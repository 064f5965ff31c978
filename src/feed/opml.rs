//! OPML 2.0 list of every feed, for readers' "import subscriptions".
//!
//! One flat `<outline type="rss">` per feed, pointing at its RSS URL. Not one per format:
//! readers subscribe to every outline they import, so three outlines per feed would give the
//! reader each post three times; and nested outlines become folders. `type="rss"` is the
//! OPML 2.0 convention for any feed subscription. No `dateCreated`: there is no clock here.

use super::text::escape;
use super::FeedInfo;
use crate::config::SiteInfo;

pub fn render(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n",
    );
    out.push_str(&format!(
        "    <title>{} feeds</title>\n",
        escape(site.title.trim())
    ));
    if let Some(author) = site.author.as_deref().filter(|a| !a.trim().is_empty()) {
        out.push_str(&format!(
            "    <ownerName>{}</ownerName>\n",
            escape(author.trim())
        ));
    }
    if let Some(email) = site
        .author_email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        out.push_str(&format!(
            "    <ownerEmail>{}</ownerEmail>\n",
            escape(email.trim())
        ));
    }
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    for feed in feeds {
        let title = escape(feed.title.trim());
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\" htmlUrl=\"{}\"/>\n",
            escape(&feed.rss_url),
            escape(&feed.html_url),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}
