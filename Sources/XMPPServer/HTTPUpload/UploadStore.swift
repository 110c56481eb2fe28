import Foundation
import Logging
import XMPPCore

/// What the upload service knows: the open slots, each account's stored bytes, and where files live
/// (`DATA_DIR/uploads/TOKEN/NAME`, with `TOKEN/.meta` saying whose it is and what type). Slots and usage are in
/// memory; the files and their metadata are on disk, read back when the server starts.
final class UploadStore: Sendable {
    /// A slot handed out and not yet filled.
    struct Slot: Sendable {
        var owner: String
        var filename: String
        var size: Int
        var contentType: String?
        var created: Date
        var uploading = false
    }

    /// A stored file.
    struct StoredFile: Sendable {
        var path: String
        var size: Int
        var contentType: String
        var created: Date
    }

    /// Why a slot request is refused.
    enum Refusal: Error, Equatable {
        case tooLarge(max: Int)
        case quota
        case tooManySlots
        case unavailable
    }

    /// Where the store lives once the web listener has started: files and the public base URL.
    struct Location: Sendable {
        var directory: String
        var baseURL: String
        var logger: Logger
    }

    /// What is known of a stored file.
    private struct StoredEntry {
        var owner: String
        var filename: String
        var size: Int
        var contentType: String
        var created: Date
    }

    private struct State {
        var slots: [String: Slot] = [:]
        /// Bytes stored plus bytes promised to open slots, per account.
        var usage: [String: Int] = [:]
        var slotsPerOwner: [String: Int] = [:]
        /// Each stored file, by token (for quota, expiry and serving: no disk read per download).
        var files: [String: StoredEntry] = [:]
    }

    let limits: UploadLimits
    private let state = Locked(State())
    private let location = Locked<Location?>(nil)

    init(limits: UploadLimits) {
        self.limits = limits
    }

    /// The location, once attached.
    var attachedLocation: Location? { location.withLock { $0 } }

    /// Starts serving from `directory` (created 0700 if missing) under `baseURL`: reads back the stored files
    /// (deleting those past expiry and any half-written upload) to know each account's usage.
    func attach(directory: String, baseURL: String, logger: Logger) throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: directory) {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var files: [String: StoredEntry] = [:]
        let now = Date()
        for token in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where UploadToken.isWellFormed(token) {
            let folder = "\(directory)/\(token)"
            guard let meta = UploadMetadata.read(from: folder), now.timeIntervalSince(meta.created) < Double(limits.expirySeconds) else {
                try? manager.removeItem(atPath: folder)
                continue
            }
            files[token] = StoredEntry(owner: meta.owner, filename: meta.filename, size: meta.size, contentType: meta.contentType,
                                       created: meta.created)
        }
        state.withLock { state in
            state.files = files
            state.usage = [:]
            for file in files.values { state.usage[file.owner, default: 0] += file.size }
            // Slots handed out before a restart of the web listener still hold their bytes.
            for slot in state.slots.values { state.usage[slot.owner, default: 0] += slot.size }
        }
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        location.withLock { $0 = Location(directory: directory, baseURL: base, logger: logger) }
        logger.info("HTTP upload serving", metadata: ["directory": "\(directory)", "files": "\(files.count)", "url": "\(baseURL)"])
    }

    /// Stops serving (the web listener stopped).
    func detach() {
        location.withLock { $0 = nil }
    }

    /// Hands out a slot to `owner` (a bare JID) for a file of `size` bytes: the PUT and GET URL (the same).
    func requestSlot(owner: String, filename: String, size: Int, contentType: String? = nil, now: Date = Date()) throws(Refusal) -> String {
        guard let location = attachedLocation else { throw .unavailable }
        guard size <= limits.maxFileBytes else { throw .tooLarge(max: limits.maxFileBytes) }
        let name = UploadFilename.sanitized(filename)
        let token = UploadToken.make()
        try state.withLock { state throws(Refusal) in
            expireSlots(in: &state, now: now)
            guard state.slotsPerOwner[owner, default: 0] < limits.maxPendingSlots else { throw .tooManySlots }
            guard state.usage[owner, default: 0] + size <= limits.quotaBytes else { throw .quota }
            state.slots[token] = Slot(owner: owner, filename: name, size: size, contentType: contentType, created: now)
            state.slotsPerOwner[owner, default: 0] += 1
            state.usage[owner, default: 0] += size
        }
        return "\(location.baseURL)/upload/\(token)/\(UploadFilename.percentEncoded(name))"
    }

    /// Claims the slot `token` for its one upload, if it exists, is unused and unexpired, and `name` is its file's.
    func claim(token: String, name: String, now: Date = Date()) -> Slot? {
        state.withLock { state in
            expireSlots(in: &state, now: now)
            guard var slot = state.slots[token], !slot.uploading, slot.filename == name else { return nil }
            slot.uploading = true
            state.slots[token] = slot
            return slot
        }
    }

    /// Ends the upload into slot `token`: on success the file counts as stored; otherwise the slot is gone and its
    /// bytes are released (the client may ask for a new one).
    func finish(token: String, stored: Bool, now: Date = Date()) {
        state.withLock { state in
            guard let slot = state.slots.removeValue(forKey: token) else { return }
            state.slotsPerOwner[slot.owner, default: 1] -= 1
            if state.slotsPerOwner[slot.owner] == 0 { state.slotsPerOwner[slot.owner] = nil }
            if stored {
                state.files[token] = StoredEntry(owner: slot.owner, filename: slot.filename, size: slot.size,
                                                 contentType: slot.contentType ?? "application/octet-stream", created: now)
            } else {
                release(slot.size, of: slot.owner, in: &state)
            }
        }
    }

    /// The file at `/upload/TOKEN/NAME`, if it is stored and not expired.
    func file(token: String, name: String, now: Date = Date()) -> StoredFile? {
        guard UploadToken.isWellFormed(token), let location = attachedLocation,
              let known = state.withLock({ $0.files[token] }), now.timeIntervalSince(known.created) < Double(limits.expirySeconds),
              known.filename == name else { return nil }
        return StoredFile(path: "\(location.directory)/\(token)/\(known.filename)", size: known.size, contentType: known.contentType,
                          created: known.created)
    }

    /// Deletes files past expiry and forgets slots past their timeout; run now and then.
    func removeExpired(now: Date = Date()) {
        guard let location = attachedLocation else { return }
        let expired = state.withLock { state -> [String] in
            expireSlots(in: &state, now: now)
            let old = state.files.filter { now.timeIntervalSince($0.value.created) >= Double(limits.expirySeconds) }
            for (token, file) in old {
                state.files[token] = nil
                release(file.size, of: file.owner, in: &state)
            }
            return Array(old.keys)
        }
        for token in expired { try? FileManager.default.removeItem(atPath: "\(location.directory)/\(token)") }
        if !expired.isEmpty { location.logger.info("HTTP upload: expired files deleted", metadata: ["count": "\(expired.count)"]) }
    }

    /// The bytes `owner` has stored or promised (for tests and the admin).
    func usage(of owner: String) -> Int { state.withLock { $0.usage[owner, default: 0] } }

    private func expireSlots(in state: inout State, now: Date) {
        for (token, slot) in state.slots where !slot.uploading && now.timeIntervalSince(slot.created) >= Double(limits.slotSeconds) {
            state.slots[token] = nil
            state.slotsPerOwner[slot.owner, default: 1] -= 1
            if state.slotsPerOwner[slot.owner] == 0 { state.slotsPerOwner[slot.owner] = nil }
            release(slot.size, of: slot.owner, in: &state)
        }
    }

    private func release(_ bytes: Int, of owner: String, in state: inout State) {
        let left = state.usage[owner, default: 0] - bytes
        state.usage[owner] = left > 0 ? left : nil
    }
}
