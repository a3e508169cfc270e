//! The product's use cases, as starting points for `followup create
//! --template`. Each fills what it can know (where records stand in the
//! source's response, whom to tell, what to say, how often); the operator
//! gives what only the tenant knows: the source's URL and the channel.

use crate::definition::model::FirstPoll;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UseCase {
    /// Requests waiting for an approver (ServiceNow sysapproval_approver)
    PendingApproval,
    /// Tickets waiting for information from their caller (ServiceNow incident)
    PendingInformation,
    /// Resolved tickets waiting for their caller to close them (ServiceNow incident)
    ResolvedToClose,
    /// New tickets, told to their assignment group (ServiceNow)
    NewTicket,
    /// New CRM opportunities, told to their owner (Salesforce SOQL)
    NewOpportunity,
    /// Employee requests waiting for approval (Salesforce ProcessInstanceWorkitem)
    EmployeeRequest,
}

/// What a use case fills in.
#[derive(Debug, Clone)]
pub struct Preset {
    pub description: &'static str,
    /// A source URL of this shape, for the generated file's comments.
    pub source_hint: &'static str,
    pub poll_every: &'static str,
    pub first_poll: FirstPoll,
    pub loop_: &'static str,
    pub reconciliation_id: &'static str,
    pub user: Option<&'static str>,
    pub group: Option<&'static str>,
    pub text: &'static str,
    pub notify_every: &'static str,
    pub attempts: u32,
    /// Commented-out post actions that fit the use case.
    pub actions_hint: &'static str,
}

impl UseCase {
    pub fn as_str(self) -> &'static str {
        match self {
            UseCase::PendingApproval => "pending-approval",
            UseCase::PendingInformation => "pending-information",
            UseCase::ResolvedToClose => "resolved-to-close",
            UseCase::NewTicket => "new-ticket",
            UseCase::NewOpportunity => "new-opportunity",
            UseCase::EmployeeRequest => "employee-request",
        }
    }

    pub fn preset(self) -> Preset {
        const SN_NOTE: &str = "# after_each_attempt:\n#   - integration:\n#       request:\n#         method: PATCH\n#         url: \"https://<instance>.service-now.com/api/now/table/incident/@{followup.data.sys_id}\"\n#         auth: { type: basic, username: \"@{env.SN_USER}\", password: \"@{env.SN_PASSWORD}\" }\n#         body: { work_notes: \"Reminder @{followup.attempt} of @{followup.attempts} sent\" }\n";
        match self {
            UseCase::PendingApproval => Preset {
                description: "Remind approvers of requests waiting for their approval.",
                source_hint: "https://<instance>.service-now.com/api/now/table/sysapproval_approver?sysparm_query=state=requested",
                poll_every: "30m",
                first_poll: FirstPoll::Notify,
                loop_: "$.result[*]",
                reconciliation_id: "$.sys_id",
                user: Some("$.approver.value"),
                group: None,
                text: "Hi @{recipient.name}, @{followup.data[\"sysapproval.number\"] ?? \"a request\"} waits for your approval.",
                notify_every: "1d",
                attempts: 3,
                actions_hint: "# after_all_attempts:\n#   - integration:\n#       request:\n#         method: PATCH\n#         url: \"https://<instance>.service-now.com/api/now/table/sysapproval_approver/@{followup.data.sys_id}\"\n#         auth: { type: basic, username: \"@{env.SN_USER}\", password: \"@{env.SN_PASSWORD}\" }\n#         body: { comments: \"No answer after @{followup.attempts} reminders\" }\n",
            },
            UseCase::PendingInformation => Preset {
                description: "Ask callers for the information their tickets wait for.",
                source_hint: "https://<instance>.service-now.com/api/now/table/incident?sysparm_query=state=3^hold_reason=1",
                poll_every: "1h",
                first_poll: FirstPoll::Notify,
                loop_: "$.result[*]",
                reconciliation_id: "$.sys_id",
                user: Some("$.caller_id.value"),
                group: None,
                text: "Hi @{recipient.name}, @{followup.data.number} (@{followup.data.short_description}) waits for information from you: please answer in the ticket.",
                notify_every: "1d",
                attempts: 3,
                actions_hint: SN_NOTE,
            },
            UseCase::ResolvedToClose => Preset {
                description: "Ask callers to confirm and close their resolved tickets.",
                source_hint: "https://<instance>.service-now.com/api/now/table/incident?sysparm_query=state=6",
                poll_every: "1h",
                first_poll: FirstPoll::Notify,
                loop_: "$.result[*]",
                reconciliation_id: "$.sys_id",
                user: Some("$.caller_id.value"),
                group: None,
                text: "Hi @{recipient.name}, @{followup.data.number} was resolved. Please close it if all is well, or reopen it.",
                notify_every: "1d",
                attempts: 3,
                actions_hint: "# after_all_attempts:\n#   - integration:\n#       request:\n#         method: PATCH\n#         url: \"https://<instance>.service-now.com/api/now/table/incident/@{followup.data.sys_id}\"\n#         auth: { type: basic, username: \"@{env.SN_USER}\", password: \"@{env.SN_PASSWORD}\" }\n#         body: { state: \"7\", close_notes: \"Closed after @{followup.attempts} reminders\" }\n",
            },
            UseCase::NewTicket => Preset {
                description: "Tell the assignment group (or manager) of each new ticket.",
                source_hint: "https://<instance>.service-now.com/api/now/table/incident?sysparm_query=active=true^ORDERBYDESCsys_created_on",
                poll_every: "10m",
                first_poll: FirstPoll::RecordOnly,
                loop_: "$.result[*]",
                reconciliation_id: "$.sys_id",
                user: None,
                group: Some("$.assignment_group.value"),
                text: "New ticket @{followup.data.number}: @{followup.data.short_description}",
                notify_every: "1d",
                attempts: 1,
                actions_hint: "",
            },
            UseCase::NewOpportunity => Preset {
                description: "Tell owners of each new opportunity.",
                source_hint: "https://<domain>.my.salesforce.com/services/data/v62.0/query?q=SELECT+Id,Name,Amount,Owner.Email+FROM+Opportunity+WHERE+CreatedDate=LAST_N_DAYS:7",
                poll_every: "30m",
                first_poll: FirstPoll::RecordOnly,
                loop_: "$.records[*]",
                reconciliation_id: "$.Id",
                user: Some("$.Owner.Email"),
                group: None,
                text: "Hi @{recipient.name}, the new opportunity @{followup.data.Name} is yours.",
                notify_every: "1d",
                attempts: 1,
                actions_hint: "",
            },
            UseCase::EmployeeRequest => Preset {
                description: "Remind approvers of employee requests waiting for them.",
                source_hint: "https://<domain>.my.salesforce.com/services/data/v62.0/query?q=SELECT+Id,Actor.Email,ProcessInstance.TargetObject.Name+FROM+ProcessInstanceWorkitem",
                poll_every: "30m",
                first_poll: FirstPoll::Notify,
                loop_: "$.records[*]",
                reconciliation_id: "$.Id",
                user: Some("$.Actor.Email"),
                group: None,
                text: "Hi @{recipient.name}, @{followup.data.ProcessInstance.TargetObject.Name} waits for your approval.",
                notify_every: "1d",
                attempts: 3,
                actions_hint: "",
            },
        }
    }
}
