import XMPPCore
import XMPPServerKernel

// Who hears of a PEP change (XEP-0163 §4.3): explicit subscribers, and the available resources of the account and
// of its presence subscribers whose caps say `node+notify`, each once and only as the access model allows.
extension PersonalEventing {
    func notify(_ events: [PubSubEvent], owner: JID, kernel: ServerKernel) async {
        guard !events.isEmpty else { return }
        let roster = await kernel.rosterItems(of: owner)
        for event in events where event.node.configuration.deliverNotifications {
            for target in recipients(of: event, owner: owner, roster: roster, kernel: kernel) {
                Self.deliver(event.message(from: owner, to: target), to: target, kernel: kernel)
            }
        }
    }

    func recipients(of event: PubSubEvent, owner: JID, roster: [RosterEntry], kernel: ServerKernel) -> [JID] {
        if let only = event.onlyFor { return [only] }
        let node = event.node
        var targets: [JID] = []
        var coveredAccounts: Set<JID> = []
        for subscription in node.subscriptions {
            guard let jid = JID(validating: subscription.jid), node.allows(Self.relation(of: jid, in: roster)) else { continue }
            targets.append(jid)
            if jid.isBare { coveredAccounts.insert(jid) }
        }
        let contacts = roster.filter { $0.contactReceivesPresence && $0.jid.localpart != nil }.map(\.jid)
        for account in [owner] + contacts where !coveredAccounts.contains(account) {
            let requester = account == owner ? Requester(jid: owner, isOwnerAccount: true) : Self.relation(of: account, in: roster)
            guard node.allows(requester) else { continue }
            if account == owner || kernel.isLocal(account) {
                for entry in kernel.registry.entries(of: account) where entry.isAvailable && wantsNotifications(entry, of: node.name) {
                    if !targets.contains(entry.session.jid) { targets.append(entry.session.jid) }
                }
            } else {
                // A contact at another server: its resources whose presence reached the owner.
                for resource in remoteResources.resources(of: account, for: owner)
                where caps.knownFeatures(of: resource.presence)?.contains(PubSubNamespace.notifyFeature(node.name)) == true {
                    if !targets.contains(resource.jid) { targets.append(resource.jid) }
                }
            }
        }
        return targets
    }

    /// Sends a notification to an online resource, or to an account's available resources; a headline for nobody
    /// online is dropped (RFC 6121 §8.5.2.1.1 keeps no headline offline). A target at another server gets it through
    /// federation.
    static func deliver(_ message: Element, to target: JID, kernel: ServerKernel) {
        guard kernel.isLocal(target) else {
            _ = kernel.sendRemote(message, to: target)
            return
        }
        let session = target.isBare ? kernel.registry.entries(of: target).first?.session : kernel.registry.entry(target)?.session
        guard let session else { return }
        _ = kernel.deliverFromService(message, to: target, eventLoop: session.eventLoop)
    }

    /// Sends a session that just came online the last items of the nodes it asks for: its own account's and those
    /// of the contacts whose presence it receives.
    func sendLastItems(to session: any ClientSession, presence: Element, kernel: ServerKernel) async {
        let features = await caps.features(of: session.jid, presence: presence, kernel: kernel)
        let suffix = "+notify"
        let wanted = Set(features.filter { $0.hasSuffix(suffix) }.map { String($0.dropLast(suffix.count)) })
        guard !wanted.isEmpty else { return }
        let user = session.jid.bare
        let contacts = await kernel.rosterItems(of: user).filter { $0.userReceivesPresence && $0.jid.localpart != nil && kernel.isLocal($0.jid) }
        for owner in [user] + contacts.map(\.jid) {
            await sendLastItems(of: owner, nodes: wanted, to: session.jid, kernel: kernel)
        }
    }

    /// A remote contact's resource became available to `account` (or announced other caps): the last items of the
    /// account's nodes it asks for with `+notify` features (XEP-0163 §4.3.2), once its caps are known.
    func remoteResourceAvailable(_ resource: JID, presence: Element, account: JID, kernel: ServerKernel) async {
        // Only a contact the account shares its presence with is kept, and only then are its caps asked for: a
        // remote server sending directed presence from made-up resources gets nothing recorded, nor requests.
        let roster = await kernel.rosterItems(of: account)
        guard roster.contains(where: { $0.jid == resource.bare && $0.contactReceivesPresence }) else {
            return remoteResources.forget(resource, of: account)
        }
        let suffix = "+notify"
        let features = await caps.features(of: resource, presence: presence, kernel: kernel)
        let wanted = Set(features.filter { $0.hasSuffix(suffix) }.map { String($0.dropLast(suffix.count)) })
        guard !wanted.isEmpty else { return }
        await sendLastItems(of: account, nodes: wanted, to: resource, kernel: kernel)
    }

    /// Sends `target` the last item of each of `owner`'s nodes in `wanted` that sends it on presence and that
    /// `target` may read.
    func sendLastItems(of owner: JID, nodes wanted: Set<String>, to target: JID, kernel: ServerKernel) async {
        guard let account = owner.localpart, let nodes = try? await store(kernel).nodes(of: account) else { return }
        let candidates = nodes.nodes.values.filter {
            wanted.contains($0.name) && $0.configuration.sendLastPublishedItem == .onSubscriptionAndPresence && $0.lastItem != nil
        }
        guard !candidates.isEmpty else { return }
        let requester = await relation(of: target, to: owner, kernel: kernel)
        for node in candidates.sorted(by: { $0.name < $1.name }) where node.allows(requester) {
            guard let last = node.lastItem else { continue }
            Self.deliver(PubSubEvent(node: node, kind: .lastItem(last, subscriber: target)).message(from: owner, to: target),
                         to: target, kernel: kernel)
        }
    }
}
