import XMPPCore

/// Roster management (RFC 6121 §2): get with versioning (XEP-0237), set and remove, pushes. Subscription
/// handling lives in the kernel's presence routing; removing an item cancels subscriptions both ways.
public struct RosterModule: ServerModule {
    public let name = "roster"
    public let specifications = ["RFC 6121 §2", "XEP-0237 1.3"]

    /// Whether a session fetched its roster and so wants roster pushes (RFC 6121 §2.1.6).
    static let wantsPushes = SessionKey<Bool>("roster.wantsPushes")

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        // The kernel's limit: its subscription rules add items too (KernelConfiguration.maxRosterItems).
        let limit = host.configuration.maxRosterItems
        host.onAccountDeleted { user, kernel in
            try await Self.forgetContacts(of: user, kernel: kernel)
        }
        host.onRosterChanged { account, item, version, kernel in
            Self.push(item, version: version, to: account, kernel: kernel)
        }
        host.addPostAuthenticationFeature(Element("ver", namespace: RosterNamespace.versioning))
        host.addPostAuthenticationFeature(Element("sub", namespace: RosterNamespace.preApproval))
        host.handleIQ(RosterNamespace.roster, for: .anyAccount) { request in
            guard request.isFromOwner else { throw StanzaError(.forbidden, text: "a roster belongs to its owner") }
            switch request.iq.type {
            case .get?: return try await Self.get(request)
            default: return try await Self.set(request, limit: limit)
            }
        }
    }

    /// Account deletion (RFC 6121 §2.5.2 applied to every item): contacts who see the account's presence see it
    /// go unavailable, every subscription is cancelled both ways so nobody keeps rights over a name that may be
    /// registered again, and the roster is removed.
    static func forgetContacts(of user: String, kernel: ServerKernel) async throws {
        let account = try JID(localpart: user, domainpart: kernel.configuration.domain)
        for item in try await kernel.storage.rosters.roster(of: user).items {
            if item.contactReceivesPresence { kernel.sendPresenceOfResources(of: account, to: item.jid, unavailable: true) }
            if item.userReceivesPresence || item.pendingOut {
                await kernel.outboundSubscription(Presence(type: .unsubscribe).element, type: .unsubscribe, to: item.jid, from: account)
            }
            if item.contactReceivesPresence || item.pendingIn {
                await kernel.outboundSubscription(Presence(type: .unsubscribed).element, type: .unsubscribed, to: item.jid, from: account)
            }
        }
        try await kernel.storage.rosters.removeRoster(of: user)
    }

    /// Sends a roster push (`<iq type='set'><query ver='…'><item/></query></iq>`) to each resource of `account`
    /// that fetched the roster.
    static func push(_ item: Element, version: Int, to account: JID, kernel: ServerKernel) {
        var query = Element("query", namespace: RosterNamespace.roster, attributes: ["ver": String(version)])
        query.append(item)
        for entry in kernel.registry.entries(of: account) where entry.state[wantsPushes] == true {
            entry.session.deliver(IQ(type: .set, to: entry.session.jid, payload: query).element)
        }
    }

    static func get(_ request: IQRequest) async throws -> IQReply {
        let roster = try await request.kernel.storage.rosters.roster(of: request.senderUsername)
        if let session = request.session { request.kernel.setState(true, for: Self.wantsPushes, of: session) }
        let version = String(roster.version)
        if let asked = request.payload.attribute("ver"), asked == version {
            return IQReply()   // Up to date: pushes will follow (XEP-0237 §3).
        }
        var query = Element("query", namespace: RosterNamespace.roster, attributes: ["ver": version])
        for item in roster.items where item.isListed { query.append(item.element) }
        return IQReply(query)
    }

    static func set(_ request: IQRequest, limit: Int) async throws -> IQReply {
        let items = request.payload.children("item", namespace: RosterNamespace.roster)
        guard items.count == 1, let element = items.first else {
            throw StanzaError(.badRequest, text: "a roster set carries exactly one item")
        }
        guard let raw = element.attribute("jid"), let contact = JID(validating: raw)?.bare else {
            throw StanzaError(.badRequest, text: "the item needs a valid jid")
        }
        let kernel = request.kernel
        let user = request.senderUsername
        let existing = try await kernel.storage.rosters.item(contact, of: user)
        if element.attribute("subscription") == "remove" {
            guard let existing else { throw StanzaError(.itemNotFound) }
            // Removing an item cancels both directions (RFC 6121 §2.5.2).
            if existing.userReceivesPresence || existing.pendingOut {
                await kernel.outboundSubscription(Presence(type: .unsubscribe).element, type: .unsubscribe, to: contact, from: request.from.bare)
            }
            if existing.contactReceivesPresence || existing.pendingIn {
                await kernel.outboundSubscription(Presence(type: .unsubscribed).element, type: .unsubscribed, to: contact, from: request.from.bare)
            }
            try await kernel.remove(contact, of: user)
            return IQReply()
        }
        let groups = element.children("group", namespace: RosterNamespace.roster).map(\.text)
        guard Set(groups).count == groups.count else { throw StanzaError(.badRequest, text: "duplicate group") }
        guard !groups.contains(where: \.isEmpty) else { throw StanzaError(.notAcceptable, text: "empty group name") }
        guard groups.allSatisfy({ $0.utf8.count <= 1024 }), (element.attribute("name")?.utf8.count ?? 0) <= 1024 else {
            throw StanzaError(.notAcceptable, text: "name or group too long")
        }
        if existing == nil || existing?.isListed == false {
            let count = try await kernel.storage.rosters.roster(of: user).items.filter(\.isListed).count
            guard count < limit else { throw StanzaError(.resourceConstraint, text: "the roster is full") }
        }
        // Subscription and ask attributes from the client are ignored (RFC 6121 §2.1.2.5, §2.3.3).
        var item = existing ?? RosterEntry(jid: contact)
        item.name = element.attribute("name").flatMap { $0.isEmpty ? nil : $0 }
        item.groups = groups
        item.isListed = true
        try await kernel.save(item, of: user)
        return IQReply()
    }
}
