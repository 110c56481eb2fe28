import Logging
import Atomics
import XMPPCore

/// The archiving preferences of the accounts that set any, in memory for the routing path. Few users change the
/// default, so all their preferences are read once, at the first login or offline delivery, and kept (as many
/// entries as accounts that set preferences, each with at most `mam_max_preference_jids` JIDs).
final class ArchivePreferencesStore: Sendable {
    private let preferences = Locked<[String: ArchivePreferences]>([:])
    /// Whether any account has preferences: until one does, the routing path reads no lock.
    private let hasAny = ManagedAtomic<Bool>(false)
    private let loading = Locked<Task<Void, Never>?>(nil)
    /// The server's default (`mam_default`).
    let serverDefault: ArchivePreferences.Default

    init(serverDefault: ArchivePreferences.Default) {
        self.serverDefault = serverDefault
    }

    /// The user's preferences, or the server default.
    func preferences(of user: String) -> ArchivePreferences {
        guard hasAny.load(ordering: .relaxed) else { return ArchivePreferences(default: serverDefault) }
        return preferences.withLock { $0[user] } ?? ArchivePreferences(default: serverDefault)
    }

    /// Reads every stored preference the first time (every caller waits for that one read).
    func ensureLoaded(kernel: ServerKernel) async {
        let task = loading.withLock { task in
            if let task { return task }
            let started = Task {
                do {
                    for user in try await kernel.storage.userData.users(withKey: MessageArchiveModule.preferencesKey) {
                        guard let document = try await kernel.storage.userData.value(MessageArchiveModule.preferencesKey, of: user),
                              let stored = ArchivePreferences(document: document) else { continue }
                        self.preferences.withLock { if $0[user] == nil { $0[user] = stored } }
                        self.hasAny.store(true, ordering: .relaxed)
                    }
                } catch {
                    kernel.logger.error("archive preferences not loaded; the server default applies", metadata: ["error": "\(error)"])
                }
            }
            task = started
            return started
        }
        await task.value
    }

    /// Stores a user's new preferences (`nil`: forget them).
    func set(_ value: ArchivePreferences?, of user: String) {
        preferences.withLock { $0[user] = value }
        if value != nil { hasAny.store(true, ordering: .relaxed) }
    }
}
