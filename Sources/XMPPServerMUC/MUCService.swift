import Foundation
import Logging
import NIOCore
import Atomics
import XMPPCore
import XMPPServerKernel

/// The multi-user chat service (XEP-0045) at one domain: creates rooms on first entry, feeds each stanza to its
/// ``Room`` under that room's lock, delivers what the room says in order, and keeps persistent rooms in the
/// kernel's per-service records (``RoomStore``). Stanzas to different rooms never wait on each other.
public final class MUCService: HostedService {
    public let domain: String
    public let displayName = "Chatrooms"
    /// What every room is allowed.
    public let limits: MUCLimits
    let rooms = Locked<[String: RoomBox]>([:])
    private let loading = Locked<Task<Void, Never>?>(nil)
    /// A reading of the stored rooms that has not started yet, which rooms adopted meanwhile share (cluster).
    private let pendingReread = Locked<Task<Void, Never>?>(nil)
    private let loaded = ManagedAtomic<Bool>(false)
    /// Why the persistent rooms could not be read at start, if they could not.
    let loadFailure = Locked<String?>(nil)
    let writer = RoomWriter()
    /// Versions of room writes, from one counter for the whole service: a room created again under a destroyed
    /// room's name must not reuse the numbers the writer has already seen for that JID.
    let writeVersions = ManagedAtomic<Int>(0)
    /// How many rooms each account is in, for ``MUCLimits/maxRoomsPerUser``. Taken only inside a room's lock,
    /// never the other way round.
    private let roomsPerAccount = Locked<[JID: Int]>([:])

    /// Rooms in memory now (`xmppctl stats`, `/metrics`).
    var roomCount: Int { rooms.withLock { $0.count } }
    /// Accounts inside rooms now, counted once per room they are in.
    var occupancyCount: Int { roomsPerAccount.withLock { $0.values.reduce(0, +) } }
    /// Persistent rooms and their owners, for ``MUCLimits/maxOwnedRooms`` and ``MUCLimits/maxPersistentRooms``.
    let ledger = PersistentRoomLedger()
    /// Stores rooms' messages in their archives (XEP-0313), in each room's order, off the rooms' locks.
    private let archiveWriter = ArchiveWriter()
    private let retentionSweeps = RetentionSweeps()
    /// Days a room's archived message is kept (0: forever).
    private let archiveRetentionDays: Int

    /// A session is in a room under one nickname at a time.
    public var presenceIsOnePerBareJID: Bool { true }

    /// Creates a service for `domain`.
    public init(domain: String, limits: MUCLimits, archiveRetentionDays: Int = 365) {
        self.domain = domain
        self.limits = limits
        self.archiveRetentionDays = archiveRetentionDays
    }

    public func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard loaded.load(ordering: .acquiring) else {
            // The first stanza waits until the persistent rooms are in memory.
            return eventLoop.makeFutureWithTask {
                await self.loadRooms(kernel: kernel)
                try await self.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop)?.get()
            }
        }
        guard let sender = stanza.attribute("from").flatMap({ JID(validating: $0) }) else { return nil }
        guard let name = to.localpart else {
            return deliver(serviceAnswer(stanza, from: sender, kernel: kernel), kernel: kernel, eventLoop: eventLoop)
        }
        if limits.archivesMessages, to.resourcepart == nil, stanza.name == "iq", let query = IQ(element: stanza)?.payload,
           query.name == "query", query.namespace == MessageArchiveModule.namespace {
            return answerArchiveQuery(stanza, query, room: name, to: to, from: sender, kernel: kernel, eventLoop: eventLoop)
        }
        if stanza.name == "presence", stanza.attribute("type") == nil, rooms.withLock({ $0[name] == nil }),
           ledger.rooms(ownedBy: sender.bare) >= limits.maxOwnedRooms {
            // Creating a room: nobody fills the server with persistent rooms and leaves.
            var effects = RoomEffects()
            effects.fail(stanza, StanzaError(.resourceConstraint, text: "you own too many rooms already"), from: to, to: sender)
            return deliver(effects, kernel: kernel, eventLoop: eventLoop)
        }
        while true {
            // Users of other servers join rooms here but do not create them (as ejabberd's default): the per-account
            // limits cannot hold a remote server, which can invent any number of accounts.
            let mayCreate = kernel.isLocal(sender)
            guard let box = room(named: name, for: stanza, to: to, mayCreate: mayCreate) else {
                // Leaving a room that is gone needs no answer; entering without a nickname is malformed (XEP-0045
                // §7.2.1); anything else to a missing room gets item-not-found.
                if stanza.name == "presence" && stanza.attribute("type") != nil { return nil }
                var effects = RoomEffects()
                let error = stanza.name != "presence" ? StanzaError(.itemNotFound, text: "no such room")
                    : !mayCreate && to.resourcepart?.isEmpty == false ? StanzaError(.notAllowed, text: "only users of this server create rooms here")
                    : StanzaError(.jidMalformed, text: "enter with room@service/nickname")
                effects.fail(stanza, error, from: to, to: sender)
                return deliver(effects, kernel: kernel, eventLoop: eventLoop)
            }
            let outcome = box.state.withLock { slot -> (action: RoomWriter.Action?, version: Int, disposable: Bool, archive: [ArchivedStanza], destroyed: Bool)? in
                guard !slot.isClosed else { return nil }
                let wasPersistent = slot.room.configuration.isPersistent
                let created = slot.isNew
                slot.isNew = false
                let nickname = to.resourcepart
                // Only presence, IQ sets (kicks, bans, destruction) and error bounces change who is inside.
                let type = stanza.attribute("type")
                let tracksMembership = stanza.name == "presence" || type == "error" || (stanza.name == "iq" && type == "set")
                let before = tracksMembership ? slot.room.accountsInside : []
                // Only IQ sets change whether a room is persistent or who owns it; they may be undone below.
                let ownershipBefore = stanza.name == "iq" && type == "set" ? slot.room : nil
                var effects: RoomEffects
                if let refusal = refusalOfEntry(stanza, from: sender, into: slot.room) {
                    effects = refusal
                } else {
                    effects = switch stanza.name {
                    case "presence": slot.room.receivePresence(stanza, from: sender, nickname: nickname, created: created, now: Date())
                    case "message": slot.room.receiveMessage(stanza, from: sender, nickname: nickname, now: Date())
                    default: slot.room.receiveIQ(stanza, from: sender, nickname: nickname)
                    }
                }
                if let ownershipBefore, let refusal = ledger.replace(
                    PersistentRoomLedger.Share(ownershipBefore),
                    with: effects.destroyed ? .none : PersistentRoomLedger.Share(slot.room), within: limits) {
                    // Over a limit: the room stays as it was, and nobody hears of the change.
                    slot.room = ownershipBefore
                    effects = RoomEffects()
                    effects.fail(stanza, refusal, from: to, to: sender)
                }
                if tracksMembership { countRooms(entered: slot.room.accountsInside.subtracting(before), left: before.subtracting(slot.room.accountsInside)) }
                // Delivered under the lock, so every occupant sees the room's stanzas in the room's order.
                for (element, recipient) in effects.stanzas { kernel.deliverFromService(element, to: recipient, eventLoop: eventLoop) }
                var action: RoomWriter.Action?
                // Queued under the lock too, so the archive keeps the room's order.
                if limits.archivesMessages {
                    for entry in effects.archive {
                        if !archiveWriter.enqueue(.init(archive: slot.room.jid.description, entry: entry), kernel: kernel) {
                            kernel.logger.warning("room archive queue full; message not archived", metadata: ["room": "\(slot.room.jid)"])
                        }
                    }
                }
                if effects.destroyed || (wasPersistent && !slot.room.configuration.isPersistent) {
                    action = wasPersistent ? .delete(slot.room.jid.description) : nil
                } else if effects.storedStateChanged && slot.room.configuration.isPersistent && !slot.room.isLocked {
                    action = .save(slot.room.stored)
                }
                if action != nil { slot.version = writeVersions.wrappingIncrementThenLoad(ordering: .relaxed) }
                let disposable = effects.destroyed || slot.room.isDisposable
                if disposable { slot.isClosed = true }
                return (action, slot.version, disposable, effects.archive, effects.destroyed)
            }
            guard let (action, version, disposable, archived, destroyed) = outcome else {
                // The room closed meanwhile (its last occupant left); look again.
                rooms.withLock { table in if table[name] === box { table[name] = nil } }
                continue
            }
            if disposable { rooms.withLock { table in if table[name] === box { table[name] = nil } } }
            // A room thrown away (destroyed, or temporary and empty) takes its archive with it: whoever creates the
            // name next must not read the conversations held in it.
            maintainArchive(of: to.bare, archived: !archived.isEmpty, destroyed: destroyed || disposable, kernel: kernel)
            guard let action else { return nil }
            return eventLoop.makeFutureWithTask { await self.writer.perform(action, version: version, store: RoomStore(records: kernel.storage.serviceRecords, domain: self.domain), logger: kernel.logger) }
        }
    }

    // MARK: Room archives

    /// A query of a room's archive (XEP-0313 §5.2), for whoever may enter the room; results come from the room.
    private func answerArchiveQuery(_ stanza: Element, _ query: Element, room name: String, to: JID, from sender: JID,
                                    kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        var effects = RoomEffects()
        let allowed = rooms.withLock { $0[name] }?.state.withLock { $0.room.mayReadArchive(sender) }
        guard let allowed, let iq = IQ(element: stanza), let type = iq.type, type.isRequest else {
            effects.fail(stanza, StanzaError(.itemNotFound, text: "no such room"), from: to, to: sender)
            return deliver(effects, kernel: kernel, eventLoop: eventLoop)
        }
        guard allowed else {
            effects.fail(stanza, StanzaError(.forbidden, text: "only those who may enter the room may read its archive"), from: to, to: sender)
            return deliver(effects, kernel: kernel, eventLoop: eventLoop)
        }
        let room = to.bare
        let writer = archiveWriter
        return eventLoop.makeFutureWithTask {
            do {
                // The archive of a room of that name that was thrown away must be gone before anyone reads.
                guard await writer.awaitRemoval(of: room.description) else {
                    throw StanzaError(.resourceConstraint, text: "the room's archive is being cleared; try again")
                }
                let payload = try await ArchiveQueryHandler.answer(
                    query, isSet: type == .set, archive: room.description, in: kernel.storage.archives, maxPage: 100,
                    requester: sender, resultsFrom: room) { kernel.deliverFromService($0, to: sender, eventLoop: eventLoop) }
                var reply = iq.result(payload: payload).element
                reply.setAttribute("from", to: room.description)
                reply.setAttribute("to", to: sender.description)
                kernel.deliverFromService(reply, to: sender, eventLoop: eventLoop)
            } catch {
                var failure = RoomEffects()
                failure.fail(stanza, error as? StanzaError ?? StanzaError(.internalServerError), from: room, to: sender)
                _ = self.deliver(failure, kernel: kernel, eventLoop: eventLoop)
            }
        }
    }

    /// `nil` while room archiving keeps up; otherwise a future that completes once it has caught up (a sender throttle).
    public func archiveRelief(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        archiveWriter.relief(on: eventLoop)
    }

    /// Removes the archive of a room that is gone (after its queued entries), and applies the retention to a room's
    /// archive once a day.
    func maintainArchive(of room: JID, archived: Bool, destroyed: Bool, kernel: ServerKernel) {
        guard limits.archivesMessages else { return }
        if destroyed { return archiveWriter.removeArchive(room.description, kernel: kernel) }
        guard archived && archiveRetentionDays > 0 && retentionSweeps.isDue(room.description) else { return }
        let (days, archives) = (archiveRetentionDays, kernel.storage.archives)
        kernel.startBackgroundTask {
            do {
                try await archives.removeEntries(olderThan: Date().addingTimeInterval(-Double(days) * 86_400), in: room.description)
            } catch {
                kernel.logger.error("room archive maintenance failed", metadata: ["room": "\(room)", "error": "\(error)"])
            }
        }
    }

    /// Removes a deleted account's affiliation from every room (stored rooms too), so whoever registers the name
    /// again inherits no ownership, membership or ban. Throws when the rooms could not be read or written, so the
    /// deletion stops and can be retried.
    public func forget(account: JID, kernel: ServerKernel) async throws {
        await loadRooms(kernel: kernel)
        guard loadFailure.withLock({ $0 }) == nil else {
            throw MUCStorageError.roomsNotLoaded
        }
        let store = RoomStore(records: kernel.storage.serviceRecords, domain: domain)
        for box in rooms.withLock({ Array($0.values) }) {
            let write = box.state.withLock { slot -> (action: RoomWriter.Action, version: Int)? in
                guard !slot.isClosed else { return nil }
                let share = PersistentRoomLedger.Share(slot.room)
                guard slot.room.affiliations.removeValue(forKey: account.bare) != nil else { return nil }
                _ = ledger.replace(share, with: PersistentRoomLedger.Share(slot.room), within: nil)
                guard slot.room.configuration.isPersistent, !slot.room.isLocked else { return nil }
                slot.version = writeVersions.wrappingIncrementThenLoad(ordering: .relaxed)
                return (.save(slot.room.stored), slot.version)
            }
            if let write { try await writer.write(write.action, version: write.version, store: store) }
        }
    }

    /// Tells every occupant of every room that it is removed because the server stops (status 332), and empties
    /// the rooms; persistent ones stay, as stored.
    public func shutDown(kernel: ServerKernel) {
        let boxes = rooms.withLock { Array($0) }
        for (name, box) in boxes {
            let disposable = box.state.withLock { slot -> Bool in
                guard !slot.isClosed else { return false }
                countRooms(entered: [], left: slot.room.accountsInside)
                for (element, recipient) in slot.room.shutDown().stanzas { kernel.deliverPresence(element, to: recipient) }
                if slot.room.isDisposable { slot.isClosed = true }
                return slot.isClosed
            }
            if disposable { rooms.withLock { table in if table[name] === box { table[name] = nil } } }
        }
    }

    /// A `resource-constraint` error when `stanza` would take its sender's account into one room more than
    /// ``MUCLimits/maxRoomsPerUser``.
    private func refusalOfEntry(_ stanza: Element, from sender: JID, into room: Room) -> RoomEffects? {
        guard stanza.name == "presence", stanza.attribute("type") == nil,
              roomsPerAccount.withLock({ $0[sender.bare, default: 0] }) >= limits.maxRoomsPerUser,
              room.occupant(of: sender) == nil, !room.accountsInside.contains(sender.bare) else { return nil }
        var effects = RoomEffects()
        effects.fail(stanza, StanzaError(.resourceConstraint, text: "you are in too many rooms already"),
                     from: stanza.attribute("to").flatMap { JID(validating: $0) } ?? room.jid, to: sender)
        return effects
    }

    func countRooms(entered: Set<JID>, left: Set<JID>) {
        guard !entered.isEmpty || !left.isEmpty else { return }
        roomsPerAccount.withLock { counts in
            for account in entered { counts[account, default: 0] += 1 }
            for account in left {
                let remaining = counts[account, default: 1] - 1
                counts[account] = remaining > 0 ? remaining : nil
            }
        }
    }

    /// The room a stanza is for, creating it when the stanza is an entry with a nickname and `mayCreate`.
    private func room(named name: String, for stanza: Element, to: JID, mayCreate: Bool) -> RoomBox? {
        rooms.withLock { table in
            if let box = table[name] { return box }
            guard mayCreate, stanza.name == "presence", stanza.attribute("type") == nil, let nickname = to.resourcepart, !nickname.isEmpty,
                  let sender = stanza.attribute("from").flatMap({ JID(validating: $0) }) else { return nil }
            let room = Room(jid: to.bare, configuration: RoomConfiguration(), owner: sender.bare, limits: limits)
            let box = RoomBox(room: room, isNew: true)
            table[name] = box
            return box
        }
    }

    private func deliver(_ effects: RoomEffects, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        for (element, recipient) in effects.stanzas { kernel.deliverFromService(element, to: recipient, eventLoop: eventLoop) }
        return nil
    }

    // MARK: The service itself

    /// Disco and ping addressed to the service's domain; anything else is `service-unavailable`.
    private func serviceAnswer(_ stanza: Element, from sender: JID, kernel: ServerKernel) -> RoomEffects {
        var effects = RoomEffects()
        let serviceJID = (try? JID(localpart: nil, domainpart: domain)) ?? kernel.domainJID
        guard stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .get, let query = iq.payload else {
            if stanza.name != "presence" { effects.fail(stanza, StanzaError(.serviceUnavailable), from: serviceJID, to: sender) }
            return effects
        }
        var payload: Element?
        switch query.namespace {
        case DiscoModule.infoNamespace where query.attribute("node") == nil:
            var info = Element("query", namespace: DiscoModule.infoNamespace)
            info.append(Element("identity", namespace: DiscoModule.infoNamespace,
                                attributes: ["category": "conference", "type": "text", "name": displayName]))
            for feature in [DiscoModule.infoNamespace, DiscoModule.itemsNamespace, MUCNamespace.muc, "urn:xmpp:ping"].sorted() {
                info.append(Element("feature", namespace: DiscoModule.infoNamespace, attributes: ["var": feature]))
            }
            payload = info
        case DiscoModule.itemsNamespace where query.attribute("node") == nil:
            payload = publicRoomList()
        case "urn:xmpp:ping":
            payload = nil
        default:
            effects.fail(stanza, StanzaError(.serviceUnavailable), from: serviceJID, to: sender)
            return effects
        }
        var result = iq.result(payload: payload).element
        result.setAttribute("from", to: serviceJID.description)
        effects.send(result, to: sender)
        return effects
    }

    /// The public, configured rooms as disco#items (XEP-0045 §6.3).
    private func publicRoomList() -> Element {
        let boxes = rooms.withLock { Array($0.values) }
        let listed = boxes.compactMap { box in
            box.state.withLock { slot -> (String, String)? in
                let room = slot.room
                guard !slot.isClosed, room.configuration.isPublic, !room.isLocked else { return nil }
                return (room.jid.description, room.configuration.name.isEmpty ? room.jid.localpart ?? "" : room.configuration.name)
            }
        }
        var query = Element("query", namespace: DiscoModule.itemsNamespace)
        for (jid, name) in listed.sorted(by: { $0.0 < $1.0 }) {
            query.append(Element("item", namespace: DiscoModule.itemsNamespace, attributes: ["jid": jid, "name": name]))
        }
        return query
    }

    // MARK: Persistence

    func loadRooms(kernel: ServerKernel) async {
        let task = loading.withLock { task in
            if let task { return task }
            let started = Task { await self.readStore(kernel: kernel) }
            task = started
            return started
        }
        await task.value
    }

    private func readStore(kernel: ServerKernel) async {
        do {
            let count = try await insertStoredRooms(kernel: kernel)
            kernel.logger.info("chat rooms loaded", metadata: ["service": "\(domain)", "rooms": "\(count)"])
        } catch {
            loadFailure.withLock { $0 = "\(error)" }
            kernel.logger.error("chat rooms could not be loaded", metadata: ["service": "\(domain)", "error": "\(error)"])
        }
        loaded.store(true, ordering: .releasing)
    }

    /// Puts every stored room that is not in memory into memory; returns how many rooms are stored.
    private func insertStoredRooms(kernel: ServerKernel) async throws -> Int {
        let stored = try await RoomStore(records: kernel.storage.serviceRecords, domain: domain).rooms()
        rooms.withLock { table in
            for record in stored {
                guard let room = Room(stored: record, limits: limits), let name = room.jid.localpart, table[name] == nil else { continue }
                table[name] = RoomBox(room: room, isNew: false)
                _ = ledger.replace(.none, with: PersistentRoomLedger.Share(room), within: nil)
            }
        }
        return stored.count
    }

    /// Whether the stored rooms were read (the first stanza reads them).
    var isLoaded: Bool { loaded.load(ordering: .acquiring) }

    /// Reads the stored rooms again, putting in memory those that are not (rooms another node served until now).
    /// Callers that come while a reading waits to start share it; one that comes after it started gets the next.
    func storedRoomsReread(kernel: ServerKernel) async {
        let task = pendingReread.withLock { pending in
            if let pending { return pending }
            let started = Task {
                try? await Task.sleep(for: .milliseconds(20))
                self.pendingReread.withLock { $0 = nil }
                do {
                    _ = try await self.insertStoredRooms(kernel: kernel)
                } catch {
                    kernel.logger.error("chat rooms could not be read again", metadata: ["service": "\(self.domain)", "error": "\(error)"])
                }
            }
            pending = started
            return started
        }
        await task.value
    }
}

/// One room and what the service tracks about it, behind one lock.
final class RoomBox: Sendable {
    struct Slot {
        var room: Room
        /// Created by the stanza being processed: its creator's self-presence carries 201.
        var isNew: Bool
        /// Removed from the service; a stanza that finds it closed looks the room up again.
        var isClosed = false
        /// The version of its latest change to the stored part (from the service-wide counter), so a slower, older
        /// write never overwrites a newer one.
        var version = 0
    }

    let state: Locked<Slot>

    init(room: Room, isNew: Bool) {
        state = Locked(Slot(room: room, isNew: isNew))
    }
}

/// Writes rooms to the store, skipping writes older than one already done for the same room.
actor RoomWriter {
    enum Action: Sendable {
        case save(StoredRoom)
        case delete(String)

        var jid: String {
            switch self {
            case .save(let room): room.jid
            case .delete(let jid): jid
            }
        }
    }

    private var written: [String: Int] = [:]

    func perform(_ action: Action, version: Int, store: RoomStore, logger: Logger) async {
        do {
            try await write(action, version: version, store: store)
        } catch {
            logger.error("chat room not stored", metadata: ["room": "\(action.jid)", "error": "\(error)"])
        }
    }

    /// Writes unless a newer version was written already; throws what storage threw.
    func write(_ action: Action, version: Int, store: RoomStore) async throws {
        guard version > written[action.jid, default: -1] else { return }
        written[action.jid] = version
        switch action {
        case .save(let room): try await store.save(room)
        case .delete(let jid): try await store.delete(room: jid)
        }
    }
}

/// Why the chat service could not do what storage was needed for.
public enum MUCStorageError: Error, CustomStringConvertible {
    /// The persistent rooms could not be read at start, so a change to all of them cannot be made.
    case roomsNotLoaded

    public var description: String { "the persistent chat rooms could not be read from storage" }
}
