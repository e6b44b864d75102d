//! Which wildcards are too wide: a `*.domain` entry may not cover a public
//! suffix, where anyone can register a name and run a server (`*.co.uk`,
//! `*.github.io`), nor a domain with such suffixes beneath it
//! (`*.amazonaws.com` covers `s3.amazonaws.com`, where anyone can create a
//! bucket). Judged against Mozilla's Public Suffix List, ICANN and private
//! sections both, kept in `core/data/public_suffix_list.dat` (refresh it from
//! <https://publicsuffix.org/list/public_suffix_list.dat>).

use publicsuffix::{List, Psl};
use std::sync::OnceLock;

/// The list as published.
const LIST: &str = include_str!("../../data/public_suffix_list.dat");

/// The parsed list, and each rule's name without its `*.` or `!`.
struct Suffixes {
    list: List,
    rules: Vec<&'static str>,
}

fn suffixes() -> &'static Suffixes {
    static SUFFIXES: OnceLock<Suffixes> = OnceLock::new();
    SUFFIXES.get_or_init(|| Suffixes {
        // The list is compiled in and parsed by the tests; an unparsable
        // one would make every wildcard refused, never accepted.
        list: LIST.parse().unwrap_or_else(|_| List::new()),
        rules: LIST
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .map(|rule| rule.trim_start_matches('!').trim_start_matches("*."))
            .collect(),
    })
}

/// The public suffix that `*.domain` would cover, if any: `domain` itself,
/// or one beneath it.
pub(super) fn public_suffix_under(domain: &str) -> Option<String> {
    let suffixes = suffixes();
    if suffixes.list.is_empty() {
        return Some(domain.to_owned());
    }
    let own = suffixes.list.suffix(domain.as_bytes());
    if own.is_some_and(|s| s.is_known() && s.as_bytes() == domain.as_bytes()) {
        return Some(domain.to_owned());
    }
    let beneath = format!(".{domain}");
    suffixes
        .rules
        .iter()
        .find(|rule| rule.ends_with(&beneath))
        .map(|rule| (*rule).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses() {
        assert!(!suffixes().rules.is_empty());
        assert!(suffixes().list.suffix(b"example.co.uk").is_some());
    }

    #[test]
    fn wildcards_over_public_suffixes_or_multi_tenant_domains_are_found() {
        for (domain, covered) in [
            ("co.uk", "co.uk"),
            ("github.io", "github.io"),
            ("com", "com"),
            ("herokuapp.com", "herokuapp.com"),
        ] {
            assert_eq!(
                public_suffix_under(domain).as_deref(),
                Some(covered),
                "{domain}"
            );
        }
        let under = public_suffix_under("amazonaws.com").unwrap();
        assert!(under.ends_with(".amazonaws.com"), "{under}");
        for fine in [
            "sharepoint.com",
            "semrush.com",
            "hostile.test",
            "example.co.uk",
        ] {
            assert_eq!(public_suffix_under(fine), None, "{fine}");
        }
    }
}
