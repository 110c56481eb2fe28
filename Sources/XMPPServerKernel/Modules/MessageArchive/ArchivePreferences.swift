import Foundation
import XMPPCore

/// A user's archiving preferences (XEP-0313 §6): a default, and JIDs always or never archived.
public struct ArchivePreferences: Sendable, Hashable {
    /// What is archived when neither list names the contact.
    public enum Default: String, Sendable, Hashable, CaseIterable {
        /// Every eligible message.
        case always
        /// Messages with contacts in the user's roster.
        case roster
        /// Nothing.
        case never
    }

    /// What is archived by default.
    public var `default`: Default
    /// Contacts (bare JIDs) always archived.
    public var always: Set<JID>
    /// Contacts (bare JIDs) never archived; wins over `always`.
    public var never: Set<JID>

    /// Preferences with empty lists.
    public init(default: Default, always: Set<JID> = [], never: Set<JID> = []) {
        self.default = `default`
        self.always = always
        self.never = never
    }

    /// What to do with a message exchanged with `contact`: `true`/`false`, or `nil` when it depends on the roster.
    func decision(for contact: JID) -> Bool? {
        let bare = contact.bare
        if never.contains(bare) { return false }
        if always.contains(bare) { return true }
        switch self.default {
        case .always: return true
        case .never: return false
        case .roster: return nil
        }
    }

    // MARK: The <prefs/> element

    /// Reads `<prefs/>`; throws `bad-request` for a missing or unknown default or a malformed JID.
    init(element: Element) throws(StanzaError) {
        guard let raw = element.attribute("default"), let value = Default(rawValue: raw) else {
            throw StanzaError(.badRequest, text: "default must be always, roster or never")
        }
        func jids(_ name: String) throws(StanzaError) -> Set<JID> {
            var result: Set<JID> = []
            for child in element.child(name, namespace: MessageArchiveModule.namespace)?.children("jid") ?? [] {
                guard let jid = JID(validating: child.text) else { throw StanzaError(.badRequest, text: "not a JID: \(child.text)") }
                result.insert(jid.bare)
            }
            return result
        }
        self.init(default: value, always: try jids("always"), never: try jids("never"))
    }

    /// The `<prefs/>` element.
    var element: Element {
        func list(_ name: String, _ jids: Set<JID>) -> Element {
            Element(name, namespace: MessageArchiveModule.namespace,
                    children: jids.map(\.description).sorted().map { .element(Element("jid", namespace: MessageArchiveModule.namespace, text: $0)) })
        }
        return Element("prefs", namespace: MessageArchiveModule.namespace, attributes: ["default": self.default.rawValue],
                       children: [.element(list("always", always)), .element(list("never", never))])
    }

    // MARK: Storage

    /// The per-user document: the default on the first line, then `+jid` (always) and `-jid` (never) lines.
    var document: [UInt8] {
        let lines = [self.default.rawValue] + always.map { "+\($0)" }.sorted() + never.map { "-\($0)" }.sorted()
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// Reads the per-user document; `nil` when it is not one.
    init?(document: [UInt8]) {
        let lines = String(decoding: document, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let first = lines.first, let value = Default(rawValue: first) else { return nil }
        self.init(default: value)
        for line in lines.dropFirst() {
            guard let jid = JID(validating: String(line.dropFirst())) else { continue }
            if line.hasPrefix("+") { always.insert(jid) } else if line.hasPrefix("-") { never.insert(jid) }
        }
    }
}
