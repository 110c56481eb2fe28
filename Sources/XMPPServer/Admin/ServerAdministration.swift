import Foundation
import XMPPCore
import XMPPServerKernel

/// The server's administration API: what `xmppctl` (over the admin socket), the web console (`/admin`) and its JSON
/// API (`/admin/api`, docs/ADMIN-API.md) do, in one place, for every domain served. Accounts are named by JID
/// (`user@domain`), or by username on the first domain.
public final class ServerAdministration: Sendable {
    /// The kernels of the server's domains, the first domain's first.
    let kernels: [ServerKernel]
    let started: Date
    let metrics: ServerMetrics?
    /// The server's recent warnings and errors.
    public let recentLog: RecentLogLines
    let configuration: ServerConfiguration
    /// Admin logins are throttled by the same record as c2s logins of the account's domain.
    let throttle: @Sendable (String) -> AuthenticationThrottle
    let limits: ConnectionLimits
    /// The live chart's history: a sample every ``sampleSeconds``, at most ``maxSamples``.
    private let samples = Locked<[Administration.Sample]>([])
    private let lastCount = Locked<(time: Date, messages: Int)?>(nil)
    static let sampleSeconds: Int64 = 5
    static let maxSamples = 120
    static let maxPageSize = 200

    init(kernels: [ServerKernel], configuration: ServerConfiguration, metrics: ServerMetrics?, recentLog: RecentLogLines,
         throttle: @escaping @Sendable (String) -> AuthenticationThrottle, started: Date = Date()) {
        self.kernels = kernels
        self.configuration = configuration
        self.metrics = metrics
        self.recentLog = recentLog
        self.throttle = throttle
        self.limits = configuration.limits
        self.started = started
    }

    // MARK: Scope

    /// Whose affairs a caller may handle: every domain's (the admin socket, administrators of the first domain), or
    /// one virtual host's (its own administrators): a tenant's administrator administers no other tenant.
    public enum Scope: Sendable, Equatable {
        case server
        case domain(String)

        func covers(_ domain: String) -> Bool {
            switch self {
            case .server: true
            case .domain(let own): own == domain
            }
        }
    }

    /// The scope of an administrator: the server's for the first domain's administrators, their own domain's otherwise.
    public func scope(of administrator: JID) -> Scope {
        administrator.domainpart == kernels[0].configuration.domain ? .server : .domain(administrator.domainpart)
    }

    func kernels(in scope: Scope) -> [ServerKernel] {
        kernels.filter { scope.covers($0.configuration.domain) }
    }

    // MARK: Figures

    /// The dashboard's figures now.
    public func overview(scope: Scope = .server) async -> Administration.Overview {
        let kernels = kernels(in: scope)
        var accounts = 0
        for kernel in kernels { accounts += (try? await kernel.storage.accounts.usernames().count) ?? 0 }
        let figures = Dictionary(CombinedFigures.statistics(of: kernels).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        let first = self.kernels[0].configuration
        return Administration.Overview(
            software: first.softwareName, version: first.softwareVersion, domains: kernels.map(\.configuration.domain),
            uptimeSeconds: Int(Date().timeIntervalSince(started)), connections: metrics?.openConnections ?? 0,
            sessions: sessionCount, accounts: accounts, messagesReceived: metrics?.messagesReceived ?? 0,
            messagesPerSecond: samples.withLock { $0.last?.messagesPerSecond } ?? 0,
            residentMemoryBytes: ServerMetrics.residentMemoryBytes() ?? 0, storageBytes: storageBytes,
            rooms: figures["muc_rooms"] ?? 0, remoteDomains: CombinedFigures.remoteDomains(of: kernels).count, figures: figures)
    }

    private var sessionCount: Int { kernels.reduce(0) { $0 + $1.registry.count } }

    /// The live chart's points, oldest first.
    public var history: [Administration.Sample] { samples.withLock { $0 } }

    /// Takes one sample for the chart (the web service calls it every ``sampleSeconds``).
    func sample() {
        let now = Date()
        let messages = metrics?.messagesReceived ?? 0
        let rate = lastCount.withLock { last -> Double in
            defer { last = (now, messages) }
            guard let last, now > last.time else { return 0 }
            return Double(messages - last.messages) / now.timeIntervalSince(last.time)
        }
        let point = Administration.Sample(time: now.timeIntervalSince1970, sessions: sessionCount, messagesPerSecond: rate)
        samples.withLock { samples in
            if samples.count >= Self.maxSamples { samples.removeFirst(samples.count - Self.maxSamples + 1) }
            samples.append(point)
        }
    }

    /// The databases' size, measured at most once a minute (at each chart sample).
    private let measuredStorage = Locked<(time: Date, bytes: Int)?>(nil)
    private var storageBytes: Int {
        if let (time, bytes) = measuredStorage.withLock({ $0 }), Date().timeIntervalSince(time) < 60 { return bytes }
        let bytes = Self.storageBytes(in: configuration.databaseDirectory)
        measuredStorage.withLock { $0 = (Date(), bytes) }
        return bytes
    }

    /// The bytes of the SQLite databases of every domain (`xmppd.sqlite` and `hosts/DOMAIN/xmppd.sqlite`, with their
    /// write-ahead logs); nothing else under the directory is looked at.
    static func storageBytes(in directory: String) -> Int {
        var places = [directory]
        if let hosts = try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/hosts") {
            places += hosts.map { "\(directory)/hosts/\($0)" }
        }
        var total = 0
        for place in places {
            for suffix in ["", "-wal", "-shm"] {
                total += ((try? FileManager.default.attributesOfItem(atPath: "\(place)/xmppd.sqlite\(suffix)"))?[.size] as? Int) ?? 0
            }
        }
        return total
    }

    // MARK: Administrators

    /// Whether `jid` is an administrator who gave the right password. Failures count against the same throttle as
    /// c2s logins (per address and per account); while throttled, even the right password is refused.
    public func authenticate(_ jid: JID, password: String, address: String) async -> Bool {
        let addressKey = AddressGrouping.key(address, ipv6PrefixLength: limits.ipv6PrefixLength)
        // The c2s record of the account's domain, under the same key as c2s (the username): one budget for both.
        let throttle = self.throttle(jid.domainpart)
        let user = jid.localpart ?? ""
        guard !throttle.isBlocked(address: addressKey, username: user) else { return false }
        let delay = throttle.delay(for: user)
        if delay > .zero { try? await Task.sleep(for: delay) }
        let kernel = kernel(of: jid)
        let isAdministrator = kernel?.configuration.admins.contains(jid.bare) ?? false
        let credentials = isAdministrator ? await kernel?.credentials(of: user, hash: .sha256) : nil
        // Someone who is not an administrator costs the same key derivation: the answer's time does not tell.
        let matches = ServerNegotiationStateMachine.passwordMatches(password, credentials ?? Self.decoy)
        guard let kernel, credentials != nil, matches, await !kernel.isDisabled(user) else {
            throttle.recordFailure(address: addressKey, username: user)
            return false
        }
        throttle.recordSuccess(address: addressKey, username: user)
        return true
    }

    /// Credentials nobody's password matches, derived like real ones.
    private static let decoy = SCRAMCredentials.allHashes(password: AdminSessions.randomToken()).first { $0.hash == .sha256 }!

    /// Whether `jid` is on the `admins` list (their password is not checked).
    public func isAdministrator(_ jid: JID) -> Bool {
        kernel(of: jid)?.configuration.admins.contains(jid.bare) ?? false
    }

    // MARK: Accounts

    /// The kernel of a JID's domain.
    func kernel(of jid: JID) -> ServerKernel? { kernels.first { $0.configuration.domain == jid.domainpart } }

    /// An account's JID from `user@domain`, or a username on the first domain.
    public func account(_ text: String, scope: Scope = .server) throws(Administration.Failure) -> (kernel: ServerKernel, jid: JID, username: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let jid = trimmed.contains("@") ? JID(validating: trimmed)
            : try? JID(localpart: trimmed, domainpart: kernels[0].configuration.domain)
        guard let jid, let user = jid.localpart, jid.resourcepart == nil, !user.isEmpty else {
            throw .badRequest("\(text) is not a username or user@domain")
        }
        guard let kernel = kernel(of: jid), scope.covers(jid.domainpart) else { throw .notFound("\(jid.domainpart) is not a domain you administer") }
        return (kernel, jid, user)
    }

    /// Accounts whose JID contains `query`, sorted by JID, one page of `pageSize` (at most ``maxPageSize``).
    public func accounts(matching query: String = "", page: Int = 1, pageSize: Int = 50, scope: Scope = .server) async throws(Administration.Failure) -> Administration.AccountPage {
        var all: [Administration.Account] = []
        let needle = query.lowercased().trimmingCharacters(in: .whitespaces)
        for kernel in kernels(in: scope) {
            let names: [String]
            do { names = try await kernel.storage.accounts.usernames() } catch { throw .failed("the accounts could not be read: \(error)") }
            for name in names {
                let jid = "\(name)@\(kernel.configuration.domain)"
                guard needle.isEmpty || jid.contains(needle) else { continue }
                let bare = try? JID(localpart: name, domainpart: kernel.configuration.domain)
                all.append(.init(jid: jid, username: name, sessions: bare.map { kernel.registry.sessionCount(of: $0) } ?? 0))
            }
        }
        all.sort { $0.jid < $1.jid }
        let size = min(max(1, pageSize), Self.maxPageSize)
        let pages = max(1, (all.count + size - 1) / size)
        let shown = min(max(1, page), pages)
        let slice = all.dropFirst((shown - 1) * size).prefix(size)
        return .init(accounts: Array(slice), total: all.count, page: shown, pageSize: size, query: query)
    }

    /// Creates an account.
    public func createAccount(_ name: String, password: String, scope: Scope = .server) async throws(Administration.Failure) -> Administration.Account {
        let (kernel, jid, user) = try account(name, scope: scope)
        guard !password.isEmpty else { throw .badRequest("the password is empty") }
        let created: Bool
        do { created = try await kernel.createAccount(user, password: password) } catch { throw .failed("the account could not be created: \(error)") }
        guard created else { throw .conflict("\(jid) exists already") }
        return .init(jid: jid.description, username: user, sessions: 0)
    }

    /// Sets an account's password. Its sessions stay (as with an in-band password change).
    public func setPassword(of name: String, to password: String, scope: Scope = .server) async throws(Administration.Failure) {
        let (kernel, jid, user) = try account(name, scope: scope)
        guard !password.isEmpty else { throw .badRequest("the password is empty") }
        let changed: Bool
        do { changed = try await kernel.changePassword(of: user, to: password) } catch { throw .failed("the password could not be set: \(error)") }
        guard changed else { throw .notFound("no account \(jid)") }
    }

    /// Deletes an account with all its data (contacts are told) and ends its sessions.
    public func deleteAccount(_ name: String, scope: Scope = .server) async throws(Administration.Failure) {
        let (kernel, jid, user) = try account(name, scope: scope)
        let deleted: Bool
        do { deleted = try await kernel.deleteAccount(user) } catch { throw .failed("the account could not be deleted: \(error)") }
        guard deleted else { throw .notFound("no account \(jid)") }
        kernel.closeSessions(of: jid, with: StreamError(.notAuthorized, text: "the account was removed"))
    }

    /// An account with its sessions, roster and vCard at a glance.
    public func accountDetails(_ name: String, scope: Scope = .server) async throws(Administration.Failure) -> Administration.AccountDetails {
        let (kernel, jid, user) = try account(name, scope: scope)
        let exists: Bool
        do { exists = try await kernel.storage.accounts.accountExists(user) } catch { throw .failed("the account could not be read: \(error)") }
        guard exists else { throw .notFound("no account \(jid)") }
        let roster = await kernel.rosterItems(of: jid).map { entry in
            Administration.Contact(jid: entry.jid.description, name: entry.name, subscription: entry.subscription.rawValue, groups: entry.groups)
        }
        var details = Administration.AccountDetails(jid: jid.description, username: user, isDisabled: await kernel.isDisabled(user),
                                                    sessions: await sessions(of: kernel.registry.entries(of: jid)), roster: roster)
        if let bytes = try? await kernel.storage.userData.value(VCardModule.storageKey, of: user),
           let vCard = try? Element(xml: String(decoding: bytes, as: UTF8.self)) {
            details.fullName = vCard.child("FN")?.text
            details.nickname = vCard.child("NICKNAME")?.text
            details.email = vCard.child("EMAIL")?.child("USERID")?.text
        }
        return details
    }

    // MARK: Configuration and log

    /// The settings in effect, secrets masked.
    public var settings: [Administration.Setting] { ConfigurationReport.settings(of: configuration, kernel: kernels[0]) }

    /// The recent log lines at warning and above, newest first.
    public var logLines: [RecentLogLines.Line] { recentLog.newestFirst }
}
