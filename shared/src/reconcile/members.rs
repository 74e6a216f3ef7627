//! Which accounts and Regions a run reads, and how: the function's own account with its own
//! credentials, every listed member account through a role the run assumes there.
//!
//! * `MEMBER_ACCOUNTS` (comma-separated 12-digit ids; empty or absent: none) — the other
//!   accounts to read. The function's **own account is always read, with its own role** (it
//!   needs no reader role of its own, and a central account that also runs ECS is never left
//!   out); listing it changes nothing (it is not assumed, nor read twice).
//! * `MEMBER_ROLE_NAME` (default [`DEFAULT_MEMBER_ROLE_NAME`]) — the role assumed in each
//!   member account: `arn:<partition>:iam::<account>:role/<name>`, with the session name
//!   [`ROLE_SESSION_NAME`] (CloudTrail in the member account shows who read).
//! * `RECONCILE_REGIONS` (comma-separated; empty or absent: the function's own Region) — the
//!   Regions read in every account.
//!
//! The partition and the own account come from the function's ARN ([`Caller`]); each
//! account × Region is a [`Reach`], read on its own: a failure in one (access denied,
//! throttling) is reported for that one and the others are still reconciled.

/// The role assumed in member accounts when `MEMBER_ROLE_NAME` is not set.
pub const DEFAULT_MEMBER_ROLE_NAME: &str = "ecs-events-reader";
/// The role session name of the reconciler's assumed sessions.
pub const ROLE_SESSION_NAME: &str = "ecs-events-reconciler";

/// The accounts and Regions a run reads besides the function's own account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// Member accounts (12-digit ids, each once, in the order given).
    pub accounts: Vec<String>,
    /// The role to assume in each.
    pub role_name: String,
    /// The Regions to read in every account; empty: the function's own.
    pub regions: Vec<String>,
}

impl Default for Members {
    /// No member account, the default role name, the function's own Region.
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            role_name: DEFAULT_MEMBER_ROLE_NAME.to_owned(),
            regions: Vec::new(),
        }
    }
}

/// Who the run is: the function's partition and account, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `aws`, `aws-cn`, `aws-us-gov`...
    pub partition: String,
    /// The function's account.
    pub account: String,
}

impl Caller {
    /// The partition and account of an ARN (the Lambda context's invoked function ARN,
    /// `arn:aws:lambda:us-east-1:111122223333:function:reconciler`), when it has both.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), _, _, Some(account)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        (!partition.is_empty() && crate::account::is_account(account))
            .then(|| Self { partition: partition.to_owned(), account: account.to_owned() })
    }
}

/// One account and Region to read, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// The account (`None`: the function's own, its id not known).
    pub account: Option<String>,
    /// The Region (`None`: the function's own).
    pub region: Option<String>,
    /// The role assumed to read it (`None`: the function's own credentials).
    pub role_arn: Option<String>,
}

impl Reach {
    /// `account 444455556666 in eu-west-1 (role arn:…)`, for reports and errors.
    pub fn describe(&self) -> String {
        let account = self.account.as_deref().unwrap_or("own account");
        let mut words = match &self.account {
            Some(_) => format!("account {account}"),
            None => account.to_owned(),
        };
        if let Some(region) = &self.region {
            words.push_str(&format!(" in {region}"));
        }
        if let Some(role) = &self.role_arn {
            words.push_str(&format!(" (role {role})"));
        }
        words
    }
}

impl Members {
    /// Whether the run reads only the function's own account in its own Region (today's
    /// behaviour, and the default).
    pub fn own_only(&self) -> bool {
        self.accounts.is_empty() && self.regions.is_empty()
    }

    /// Every account × Region a run reads: the own account first (own credentials), then each
    /// member account other than the own one (its role), each in every Region. Without a
    /// caller the partition is `aws` and every listed account is assumed.
    pub fn plan(&self, caller: Option<&Caller>) -> Vec<Reach> {
        let regions: Vec<Option<String>> = if self.regions.is_empty() {
            vec![None]
        } else {
            self.regions.iter().cloned().map(Some).collect()
        };
        let partition = caller.map_or("aws", |caller| caller.partition.as_str());
        let own = caller.map(|caller| caller.account.clone());
        let mut reaches = Vec::new();
        for region in &regions {
            reaches.push(Reach { account: own.clone(), region: region.clone(), role_arn: None });
        }
        for account in self.accounts.iter().filter(|account| Some(*account) != own.as_ref()) {
            let role_arn = format!("arn:{partition}:iam::{account}:role/{}", self.role_name);
            for region in &regions {
                reaches.push(Reach {
                    account: Some(account.clone()),
                    region: region.clone(),
                    role_arn: Some(role_arn.clone()),
                });
            }
        }
        reaches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(accounts: &[&str], regions: &[&str]) -> Members {
        Members {
            accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            ..Members::default()
        }
    }

    #[test]
    fn given_no_members_then_only_the_own_account_is_read_with_its_own_credentials() {
        let plan = Members::default().plan(None);
        assert_eq!(plan, [Reach { account: None, region: None, role_arn: None }]);
        assert!(Members::default().own_only());
    }

    #[test]
    fn given_members_and_regions_then_each_account_is_read_in_each_region_through_its_role() {
        let caller = Caller::from_arn("arn:aws-cn:lambda:cn-north-1:111122223333:function:rec")
            .expect("a function ARN");
        let plan = members(
            &["444455556666", "111122223333", "777788889999"],
            &["cn-north-1", "cn-northwest-1"],
        )
        .plan(Some(&caller));
        let described: Vec<String> = plan.iter().map(Reach::describe).collect();
        assert_eq!(
            described,
            [
                "account 111122223333 in cn-north-1",
                "account 111122223333 in cn-northwest-1",
                "account 444455556666 in cn-north-1 (role arn:aws-cn:iam::444455556666:role/ecs-events-reader)",
                "account 444455556666 in cn-northwest-1 (role arn:aws-cn:iam::444455556666:role/ecs-events-reader)",
                "account 777788889999 in cn-north-1 (role arn:aws-cn:iam::777788889999:role/ecs-events-reader)",
                "account 777788889999 in cn-northwest-1 (role arn:aws-cn:iam::777788889999:role/ecs-events-reader)",
            ],
            "the own account (listed or not) is read once, with its own credentials"
        );
    }

    #[test]
    fn given_arns_then_the_caller_is_read_from_a_function_arn_only() {
        assert_eq!(
            Caller::from_arn("arn:aws:lambda:us-east-1:111122223333:function:reconciler"),
            Some(Caller { partition: "aws".into(), account: "111122223333".into() })
        );
        assert_eq!(Caller::from_arn(""), None);
        assert_eq!(Caller::from_arn("arn:aws:lambda:us-east-1::function:x"), None);
    }
}
