import Foundation
import GatehouseCore

/// The wire shapes of the tiered-access API (snake_case keys, as seed 002's clients read them).
enum TieredPresentation {
    static func limits(_ limits: AccountLimits) -> [String: Any] {
        ["hosted_cameras": limits.hostedCameras ?? NSNull(), "storage_bytes": limits.storageBytes ?? NSNull(), "bandwidth_bytes": limits.bandwidthBytes ?? NSNull()]
    }

    static func usage(_ usage: AccountUsage) -> [String: Any] {
        ["channels": usage.channels, "tokens_issued": usage.tokensIssued, "api_calls": usage.apiCalls,
         "storage_bytes": usage.storageBytes, "bandwidth_bytes": usage.bandwidthBytes,
         "bandwidth_month": String(format: "%04d-%02d", usage.bandwidthMonth / 100, usage.bandwidthMonth % 100)]
    }

    /// An account; `licenseKey` only for the super-admin.
    static func account(_ record: TieredAccountRecord, licenseKey: String?) -> [String: Any] {
        var body: [String: Any] = [
            "id": record.tenantId, "suid": record.suid, "usrc": record.usrc, "enabled": record.enabled,
            "limits": limits(record.limits), "usage": usage(record.usage),
            "created": TieredJSON.time(seconds: record.createdAt), "updated": TieredJSON.time(seconds: record.updatedAt),
        ]
        if let licenseKey { body["license_key"] = ["value": licenseKey] }
        return body
    }

    static func channelLimits(_ limits: ChannelLimits) -> [String: Any] {
        ["storage_bytes": limits.storageBytes ?? NSNull(), "records_max_age": limits.recordsMaxAge ?? NSNull()]
    }

    /// A channel as its account (LKey) sees it: settings, source (never its password), tokens.
    static func channel(_ channel: Channel) -> [String: Any] {
        var body = channelCommon(channel.record)
        body["source"] = [
            "url": channel.record.sourceURL ?? NSNull(), "login": channel.record.sourceLogin ?? NSNull(),
            "password_set": channel.record.sourcePasswordSealed != nil,
        ] as [String: Any]
        body["limits"] = channelLimits(channel.record.limits)
        body["storage_used"] = channel.record.storageBytes
        body["access_tokens"] = Dictionary(uniqueKeysWithValues: channel.accessTokens.map { ($0.key.rawValue, $0.value) })
        return body
    }

    /// The settings every reader of a channel may see.
    static func channelCommon(_ record: ChannelRecord) -> [String: Any] {
        ["id": record.id, "name": record.name, "timezone": record.timezone, "rec_mode": record.recMode.rawValue, "meta": record.meta,
         "created": TieredJSON.time(seconds: record.createdAt), "updated": TieredJSON.time(seconds: record.updatedAt)]
    }

    static func group(_ group: ChannelGroup) -> [String: Any] {
        ["id": group.record.id, "name": group.record.name, "channels": group.record.channelIds, "token": group.token,
         "created": TieredJSON.time(seconds: group.record.createdAt), "updated": TieredJSON.time(seconds: group.record.updatedAt)]
    }

    static func event(_ event: ChannelEvent) -> [String: Any] {
        let payload = (try? JSONSerialization.jsonObject(with: Data(event.payload.utf8))) ?? [String: Any]()
        return ["id": event.id, "channel_id": event.channelId, "type": event.type, "time": TieredJSON.time(millis: event.time),
                "payload": payload, "created": TieredJSON.time(seconds: event.createdAt)]
    }
}
