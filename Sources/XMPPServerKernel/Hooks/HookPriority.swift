/// The order in which hooks of one kind run: higher priorities first, and hooks of equal priority in the order
/// their modules were activated (the module list's order). A hook that handles an event stops the ones after it.
///
/// The named levels leave room between them; a module that must run just before another uses a value in between.
public struct HookPriority: Sendable, Hashable, Comparable {
    /// The numeric priority; higher runs earlier.
    public var value: Int

    /// A priority of `value`.
    public init(_ value: Int) { self.value = value }

    /// Policy checks that may stop a stanza before anything else sees it (blocking, privacy).
    public static let policy = HookPriority(1000)
    /// Ahead of the ordinary handlers (copies, archiving that must see a stanza before it is consumed).
    public static let early = HookPriority(100)
    /// The default.
    public static let normal = HookPriority(0)
    /// After the ordinary handlers.
    public static let late = HookPriority(-100)
    /// The last resort: what happens when nothing else handled the event (offline storage).
    public static let fallback = HookPriority(-1000)

    public static func < (lhs: HookPriority, rhs: HookPriority) -> Bool { lhs.value < rhs.value }
}

/// Hooks of one kind, kept sorted by priority (stable for equal priorities).
struct HookList<Hook>: Sendable where Hook: Sendable {
    private var entries: [(priority: HookPriority, order: Int, hook: Hook)] = []

    /// The hooks in running order.
    private(set) var hooks: [Hook] = []

    /// Whether nothing is registered: call sites test this first, so an unused hook point costs one branch.
    var isEmpty: Bool { hooks.isEmpty }

    mutating func add(_ hook: Hook, priority: HookPriority) {
        entries.append((priority, entries.count, hook))
        entries.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.order < $1.order }
        hooks = entries.map(\.hook)
    }
}

/// What a hook that may consume an event answers.
public enum HookOutcome: Sendable {
    /// The event was dealt with; later hooks and the kernel's default do not run.
    case handled
    /// Not this hook's business, or only observed: the next hook runs.
    case pass
}
