/// The stores a server runs on. Backends (in-memory here, SQLite in XMPPServerSQLite) provide all of them.
public struct ServerStorage: Sendable {
    /// Accounts and credentials.
    public var accounts: any AccountStore
    /// Rosters and subscription states.
    public var rosters: any RosterStore
    /// Offline messages.
    public var offline: any OfflineStore
    /// Per-user documents (vCard, last activity).
    public var userData: any UserDataStore
    /// Records of hosted services and modules (persistent chat rooms, ...).
    public var serviceRecords: any ServiceRecordStore
    /// Append-only archives with time, party and id queries (message archives).
    public var archives: any ArchiveStore

    /// Bundles stores.
    public init(accounts: any AccountStore, rosters: any RosterStore, offline: any OfflineStore, userData: any UserDataStore,
                serviceRecords: any ServiceRecordStore = InMemoryServiceRecordStore(),
                archives: any ArchiveStore = InMemoryArchiveStore()) {
        self.accounts = accounts
        self.rosters = rosters
        self.offline = offline
        self.userData = userData
        self.serviceRecords = serviceRecords
        self.archives = archives
    }

    /// Fresh in-memory stores, for tests and throwaway servers.
    public static func inMemory() -> ServerStorage {
        ServerStorage(accounts: InMemoryAccountStore(), rosters: InMemoryRosterStore(),
                      offline: InMemoryOfflineStore(), userData: InMemoryUserDataStore())
    }
}
