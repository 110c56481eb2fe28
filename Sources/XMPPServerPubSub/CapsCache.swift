import XMPPCore
import XMPPServerKernel

/// What the server knows of clients' entity capabilities (XEP-0115): the features behind each verification string,
/// learned by asking the first client that announced it (disco#info to `node#ver`) and checking the answer hashes
/// to `ver`. PEP reads the `+notify` features from it (XEP-0163 §4.3). Bounded: the oldest entries go first.
final class CapsCache: Sendable {
    private struct State {
        var features: [String: Set<String>] = [:]
        var order: [String] = []
        var asking: Set<String> = []
    }

    private let state = Locked(State())
    /// Features one caps entry may list, and their bytes in all; clients announce a few dozen.
    static let maxFeatures = 512
    static let maxFeatureBytes = 32_768
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The `<c/>` of a presence: its node and verification string (sha-1 only, the hash everyone uses).
    static func announcement(in presence: Element?) -> (node: String, ver: String)? {
        guard let caps = presence?.child("c", namespace: EntityCapabilities.namespace), caps.attribute("hash") == "sha-1",
              let node = caps.attribute("node"), let ver = caps.attribute("ver") else { return nil }
        return (node, ver)
    }

    /// The features of the session's announced capabilities, if known now.
    func knownFeatures(of presence: Element?) -> Set<String>? {
        guard let (_, ver) = Self.announcement(in: presence) else { return [] }
        return state.withLock { $0.features[ver] }
    }

    /// The features of the capabilities `entity` (a local session, or a remote contact's resource) announced in
    /// `presence`, asking it when they are new. Empty when it announced none, or its answer did not match.
    func features(of entity: JID, presence: Element?, kernel: ServerKernel) async -> Set<String> {
        guard let (node, ver) = Self.announcement(in: presence) else { return [] }
        let shouldAsk = state.withLock { state -> Bool? in
            if state.features[ver] != nil { return nil }
            return state.asking.insert(ver).inserted
        }
        guard let shouldAsk else { return state.withLock { $0.features[ver] } ?? [] }
        guard shouldAsk else {
            // Someone else is asking: wait a little for their answer.
            for _ in 0..<50 {
                try? await Task.sleep(for: .milliseconds(100))
                if let known = state.withLock({ $0.features[ver] }) { return known }
            }
            return []
        }
        defer { state.withLock { _ = $0.asking.remove(ver) } }
        let query = Element("query", namespace: DiscoNamespace.info, attributes: ["node": "\(node)#\(ver)"])
        guard let reply = try? await kernel.request(query, to: entity, timeout: .seconds(10)),
              let info = reply.child("query", namespace: DiscoNamespace.info) else { return [] }
        let identities = info.children("identity").map(DiscoIdentity.init(element:))
        let features = info.children("feature").compactMap { $0.attribute("var") }
        // A made-up list of any length would hash right too: an oversized one is neither cached nor used.
        guard features.count <= Self.maxFeatures, features.reduce(0, { $0 + $1.utf8.count }) <= Self.maxFeatureBytes else { return [] }
        let forms = info.children("x", namespace: DataForm.namespace).compactMap(DataForm.init(element:))
        // A lying or broken client does not poison the cache for everyone announcing the same string.
        guard EntityCapabilities.verification(identities: identities, features: features, forms: forms) == ver else { return Set(features) }
        remember(Set(features), for: ver)
        return Set(features)
    }

    private func remember(_ features: Set<String>, for ver: String) {
        state.withLock { state in
            if state.features.updateValue(features, forKey: ver) == nil { state.order.append(ver) }
            while state.order.count > capacity { state.features[state.order.removeFirst()] = nil }
        }
    }
}
