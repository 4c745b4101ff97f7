extension Migrations {
    /// Version 12: the serial of a device found by its device id (a device's provisioning
    /// model picks its settings schema on every settings change, and a fleet change joins
    /// every device to its serial) without reading the whole serials table.
    static let deviceLookups = Migration(
        version: 12, name: "device lookups",
        sqlite: ["CREATE INDEX provision_serials_device ON provision_serials (device_id)"],
        postgres: ["CREATE INDEX provision_serials_device ON provision_serials (device_id)"])
}
