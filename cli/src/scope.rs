//! The command-line flags that say which accounts, Regions and clusters a command covers, and
//! what accounts are called: `--cluster`, `--account`, `--region` (`tasks`, `deployments`) and
//! `--account-names` (those and `replay`), with the syntax of the stack's `ACCOUNT_NAMES`.

use clap::Args;
use ecs_events::account::AccountNames;

use crate::tasks::Scope;

/// Which clusters: by name or ARN, account and Region (at least one of them).
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = true)]
pub struct ScopeArgs {
    /// The cluster: its name or ARN. A name alone covers every stored cluster of that name
    /// (one per account and Region); --account and --region narrow it.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Only clusters of this account: its 12-digit id, or its name in --account-names.
    #[arg(long)]
    pub account: Option<String>,
    /// Only clusters of this Region (eu-west-1...).
    #[arg(long)]
    pub region: Option<String>,
}

impl ScopeArgs {
    /// The scope the flags give.
    pub fn scope(&self) -> Scope {
        Scope {
            cluster: self.cluster.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

/// What accounts are called.
#[derive(Debug, Clone, Default, Args)]
pub struct AccountNamesArgs {
    /// Names of accounts, as the stack's AccountNames parameter: 111122223333=prod-eu,
    /// 444455556666=staging (default: the ACCOUNT_NAMES environment variable). Messages and
    /// the timeline name accounts by them; --account takes them.
    #[arg(long, value_name = "ID=NAME,...")]
    pub account_names: Option<String>,
}

impl AccountNamesArgs {
    /// The names given (`--account-names`, else `ACCOUNT_NAMES`, else none); the error names
    /// where they came from and the entry at fault.
    pub fn names(&self) -> Result<AccountNames, String> {
        let (origin, text) = match &self.account_names {
            Some(text) => ("--account-names", text.clone()),
            None => ("ACCOUNT_NAMES", std::env::var("ACCOUNT_NAMES").unwrap_or_default()),
        };
        AccountNames::parse(&text).map_err(|error| format!("{origin}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_account_names_then_they_are_read_and_a_bad_entry_is_named_with_the_flag() {
        let args = AccountNamesArgs { account_names: Some("111122223333=prod".into()) };
        assert_eq!(args.names().expect("valid").name("111122223333"), Some("prod"));
        let bad = AccountNamesArgs { account_names: Some("111122223333=prod,12=x".into()) };
        assert_eq!(
            bad.names().expect_err("bad id"),
            "--account-names: entry 2 \"12=x\": account id \"12\" must be 12 digits"
        );
    }
}
