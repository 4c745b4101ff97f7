import GatehouseCore

/// The model of `webhooks.mustache`: an activation operator's webhooks (issue 10, point 4)
/// with their recent deliveries, the "Add webhook" form, and a new webhook's secret (once).
struct ConsoleWebhooksPage: Sendable {
    struct Node: Sendable {
        let id: Int64
        let name: String
        let kind: String
    }

    struct Delivery: Sendable {
        let event: String
        let status: String
        let attempts: Int
        let at: ConsoleTime
        let error: String?
    }

    struct Row: Sendable {
        let id: Int64
        let url: String
        let events: String
        let created: ConsoleTime
        /// The latest delivery's state in a few words ("no deliveries yet" when none).
        let latest: String
        let deliveries: [Delivery]
        let hasDeliveries: Bool
        let deleteAction: String
    }

    struct EventOption: Sendable {
        let name: String
        /// The checkbox's form field (`event-<name>`).
        let field: String
        let id: String
        let label: String
        let checked: Bool
    }

    /// The "Add webhook" form: what was typed and its errors.
    struct AddForm: Sendable {
        var url = ""
        var events: [EventOption] = []
        var errors: [String: String] = [:]
    }

    /// A webhook just added, with its signing secret (shown this once).
    struct Created: Sendable {
        let url: String
        let secret: String
    }

    let frame: ConsoleFrame
    let csrf: String
    let operatorNode: Node
    let switcher: ConsoleOperatorSwitch
    let webhooks: [Row]
    let add: AddForm
    let created: Created?
    /// Where the add form posts (`/console/operator/operators/<id>/webhooks`).
    let addAction: String
    let organizationsHref: String
}
