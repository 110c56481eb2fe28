import XMPPCore
import XMPPServerKernel

/// Multi-user chat (XEP-0045): runs a ``MUCService`` at `muc_domain` (`conference.<domain>` by default), or nothing
/// when it is `off`.
public struct MUCModule: ServerModule {
    public let name = "muc"
    public let specifications = ["XEP-0045 1.35", "XEP-0249 1.2", "XEP-0313 1.1.3", "XEP-0359 0.7", "XEP-0410 1.1", "XEP-0421 1.0.1"]

    /// `muc_domain`: where the service runs.
    public static let domain = ConfigOption.string(
        "muc_domain", default: "", "the chat service's domain; empty means conference.DOMAIN, off turns the service off")
    /// `muc_max_history`: history kept per room.
    public static let maxHistory = ConfigOption.integer(
        "muc_max_history", default: 100, range: 0...10_000, "most messages of history a room keeps (and sends on entry)")
    /// `muc_max_occupants`: occupants per room.
    public static let maxOccupants = ConfigOption.integer(
        "muc_max_occupants", default: 1000, range: 1...100_000, "most occupants of any room; one more entry gets service-unavailable")
    /// `muc_max_rooms_per_user`: rooms one account may be in.
    public static let maxRoomsPerUser = ConfigOption.integer(
        "muc_max_rooms_per_user", default: 100, range: 1...100_000,
        "most rooms one account may be in at once (creation included); one more gets resource-constraint")
    /// `muc_max_history_bytes`: history bytes per room.
    public static let maxHistoryBytes = ConfigOption.integer(
        "muc_max_history_bytes", default: 262_144, range: 0...16_777_216, "most bytes of history a room keeps; older messages drop off")
    /// `muc_max_owned_rooms`: persistent rooms per owner.
    public static let maxOwnedRooms = ConfigOption.integer(
        "muc_max_owned_rooms", default: 10, range: 1...100_000,
        "persistent rooms an account may own and still create a room, make one persistent or be made an owner of one; beyond: resource-constraint")
    /// `muc_max_persistent_rooms`: persistent rooms of the whole service.
    public static let maxPersistentRooms = ConfigOption.integer(
        "muc_max_persistent_rooms", default: 10_000, range: 1...10_000_000,
        "persistent rooms the service keeps in all; making one more persistent gets resource-constraint")
    /// `muc_max_affiliations`: affiliations per room.
    public static let maxAffiliations = ConfigOption.integer(
        "muc_max_affiliations", default: 1000, range: 1...100_000,
        "members, admins, owners and outcasts one room may record; one more gets resource-constraint")
    /// `muc_archive`: whether rooms keep an archive.
    public static let archive = ConfigOption.boolean(
        "muc_archive", default: true, "rooms keep their messages in an archive that those who may enter can query (XEP-0313)")
    /// `muc_archive_retention_days`: how long a room's archive keeps a message.
    public static let archiveRetentionDays = ConfigOption.integer(
        "muc_archive_retention_days", default: 365, range: 0...36_500,
        "days a room's archived message is kept (0: forever); older ones are removed as the room archives new ones")
    public var options: [ConfigOption] {
        [Self.domain, Self.maxHistory, Self.maxOccupants, Self.maxRoomsPerUser, Self.maxHistoryBytes, Self.maxOwnedRooms, Self.maxAffiliations,
         Self.maxPersistentRooms, Self.archive, Self.archiveRetentionDays]
    }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let configured: String = host.option(Self.domain)
        guard configured != "off" else { return }
        let domain = configured.isEmpty ? "conference.\(host.configuration.domain)" : configured.lowercased()
        // The service needs a domain of its own; one equal to the server's would swallow its traffic.
        guard domain != host.configuration.domain else { return }
        var limits = MUCLimits(maxHistoryLength: host.option(Self.maxHistory), maxOccupants: host.option(Self.maxOccupants),
                               maxRoomsPerUser: host.option(Self.maxRoomsPerUser), maxHistoryBytes: host.option(Self.maxHistoryBytes),
                               maxOwnedRooms: host.option(Self.maxOwnedRooms), maxAffiliations: host.option(Self.maxAffiliations),
                               maxPersistentRooms: host.option(Self.maxPersistentRooms))
        limits.archivesMessages = host.option(Self.archive)
        limits.occupantIDSecret = host.configuration.secret
        let service = MUCService(domain: domain, limits: limits, archiveRetentionDays: host.option(Self.archiveRetentionDays))
        host.addStatistic("muc_rooms") { _ in service.roomCount }
        host.addStatistic("muc_occupants") { _ in service.occupancyCount }
        host.addService(service)
        if limits.archivesMessages { host.throttleSenders { service.archiveRelief(on: $0) } }
        host.onAccountDeleted { user, kernel in
            try await service.forget(account: try JID(localpart: user, domainpart: kernel.configuration.domain), kernel: kernel)
        }
    }
}
