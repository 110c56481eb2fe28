import XMPPCore

/// How many persistent rooms the service holds and how many each account owns: the counts behind
/// `muc_max_persistent_rooms` and `muc_max_owned_rooms`, kept up to date as rooms change, so a check is a lookup.
///
/// A change is judged by its outcome (what the room looks like after the request), not by parsing the request, so
/// every way of making a room persistent or naming an owner is counted alike. Its lock is a leaf: taken inside a
/// room's lock or the room table's, never holding another.
final class PersistentRoomLedger: Sendable {
    /// What the ledger counts of one room.
    struct Share: Equatable {
        /// Whether the room is persistent.
        var isPersistent: Bool
        /// Its owners (none counted while it is temporary).
        var owners: Set<JID>

        /// Nothing: a temporary, destroyed or absent room.
        static let none = Share(isPersistent: false, owners: [])

        init(isPersistent: Bool, owners: Set<JID>) {
            self.isPersistent = isPersistent
            self.owners = owners
        }

        /// What `room` counts for.
        init(_ room: Room) {
            isPersistent = room.configuration.isPersistent
            owners = isPersistent ? Set(room.affiliations.lazy.filter { $0.value == .owner }.map(\.key)) : []
        }
    }

    private struct Counts {
        var persistentRooms = 0
        var owned: [JID: Int] = [:]
    }

    private let counts = Locked(Counts())

    /// How many persistent rooms `account` (a bare JID) owns.
    func rooms(ownedBy account: JID) -> Int {
        counts.withLock { $0.owned[account, default: 0] }
    }

    /// Records that a room's share went from `before` to `after`. With `limits`, refuses (and records nothing)
    /// when the change would make one persistent room more than ``MUCLimits/maxPersistentRooms`` or give an owner
    /// one more than ``MUCLimits/maxOwnedRooms``; losing rooms or owners is always recorded.
    func replace(_ before: Share, with after: Share, within limits: MUCLimits?) -> StanzaError? {
        guard before != after else { return nil }
        return counts.withLock { counts -> StanzaError? in
            let gained = after.owners.subtracting(before.owners)
            if let limits {
                if after.isPersistent, !before.isPersistent, counts.persistentRooms >= limits.maxPersistentRooms {
                    return StanzaError(.resourceConstraint, text: "this service keeps no more persistent rooms")
                }
                if let full = gained.first(where: { counts.owned[$0, default: 0] >= limits.maxOwnedRooms }) {
                    return StanzaError(.resourceConstraint, text: "\(full) owns too many persistent rooms already")
                }
            }
            counts.persistentRooms += (after.isPersistent ? 1 : 0) - (before.isPersistent ? 1 : 0)
            for owner in gained { counts.owned[owner, default: 0] += 1 }
            for owner in before.owners.subtracting(after.owners) {
                let left = counts.owned[owner, default: 1] - 1
                counts.owned[owner] = left > 0 ? left : nil
            }
            return nil
        }
    }
}
