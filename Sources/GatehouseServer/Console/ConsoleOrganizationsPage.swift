import GatehouseCore

/// The choice of activation operator (a dealer node) on the operator's organization and
/// webhook pages: a GET form that opens the same page for another node.
struct ConsoleOperatorSwitch: Sendable {
    struct Option: Sendable {
        let id: Int64
        let label: String
        let selected: Bool
    }

    /// Where the form goes (`/console/operator/organizations` or `…/webhooks`, with `?operator=`).
    let action: String
    let options: [Option]
}

/// The model of `organizations.mustache`: the organizations (accounts) under one activation
/// operator (a dealer node), and the form that creates one directly under it.
struct ConsoleOrganizationsPage: Sendable {
    struct Node: Sendable {
        let id: Int64
        let name: String
        let kind: String
    }

    struct Row: Sendable {
        let id: Int64
        let name: String
        let key: String
        let under: String
        let note: String
        let cameraLimit: String
        let userLimit: String
        let enabled: Bool
        let href: String
    }

    let frame: ConsoleFrame
    let csrf: String
    let operatorNode: Node
    let switcher: ConsoleOperatorSwitch
    let organizations: [Row]
    let nextHref: String?
    let create: ConsoleOrganizationForm
    /// Where the create form posts (`/console/operator/operators/<id>/organizations`).
    let createAction: String
    let webhooksHref: String
}

/// The organization form (create and edit): what was typed and its errors.
struct ConsoleOrganizationForm: Sendable {
    var title = ""
    var note = ""
    var cameraLimit = ""
    var userLimit = ""
    var errors: [String: String] = [:]
}

/// The preset form (create and edit): settings as `name=value` lines.
struct ConsolePresetForm: Sendable {
    var title = ""
    var settings = ""
    var errors: [String: String] = [:]
}

/// The model of `organization.mustache`: one organization (edit, delete) and its presets
/// (list, create, delete; each opens `preset.mustache` to edit).
struct ConsoleOrganizationPage: Sendable {
    struct PresetRow: Sendable {
        let id: Int64
        let title: String
        let settings: String
        let href: String
    }

    let frame: ConsoleFrame
    let csrf: String
    let id: Int64
    let name: String
    let key: String
    let parentName: String
    let parentHref: String
    let devicesHref: String
    let edit: ConsoleOrganizationForm
    let presets: [PresetRow]
    let createPreset: ConsolePresetForm
    /// Where the forms post (`/console/operator/organizations/<id>`).
    let base: String
}

/// The model of `preset.mustache`: one preset's edit and delete forms.
struct ConsolePresetPage: Sendable {
    let frame: ConsoleFrame
    let csrf: String
    let id: Int64
    let organizationName: String
    let organizationHref: String
    let edit: ConsolePresetForm
    /// Where the forms post (`/console/operator/presets/<id>`).
    let base: String
}
