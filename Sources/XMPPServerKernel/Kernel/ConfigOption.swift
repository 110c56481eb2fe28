/// A configuration key a module declares: its type, default, bounds and a one-line description. The config file
/// and `--set` are validated against the declarations; docs/CONFIG.md lists them (a test keeps the two in step).
public struct ConfigOption: Sendable, Hashable {
    /// What values the key takes.
    public enum Kind: Sendable, Hashable {
        /// A whole number within the range.
        case integer(ClosedRange<Int>)
        /// `true`/`false` (also yes/no, on/off, 1/0).
        case boolean
        /// Any text.
        case string
        /// One of the listed words.
        case choice([String])
    }

    /// The key as written in `xmppd.conf` and `--set`, such as `offline_limit`.
    public let key: String
    /// What values it takes.
    public let kind: Kind
    /// The default, as it would be written in the config file.
    public let defaultValue: String
    /// One line for operators: what it controls and what happens at the limit.
    public let summary: String

    /// A whole-number option within `range`.
    public static func integer(_ key: String, default value: Int, range: ClosedRange<Int>, _ summary: String) -> ConfigOption {
        ConfigOption(key: key, kind: .integer(range), defaultValue: String(value), summary: summary)
    }

    /// A true/false option.
    public static func boolean(_ key: String, default value: Bool, _ summary: String) -> ConfigOption {
        ConfigOption(key: key, kind: .boolean, defaultValue: String(value), summary: summary)
    }

    /// A text option; `default` may be empty, meaning the module picks (documented in `summary`).
    public static func string(_ key: String, default value: String, _ summary: String) -> ConfigOption {
        ConfigOption(key: key, kind: .string, defaultValue: value, summary: summary)
    }

    /// An option taking one of `choices`.
    public static func choice(_ key: String, default value: String, _ choices: [String], _ summary: String) -> ConfigOption {
        ConfigOption(key: key, kind: .choice(choices), defaultValue: value, summary: summary)
    }

    /// `nil` when `raw` is a valid value, else what is wrong with it, in words for the operator.
    public func problem(with raw: String) -> String? {
        switch kind {
        case .integer(let range):
            guard let number = Int(raw), range.contains(number) else {
                return "\(key) needs a whole number from \(range.lowerBound) to \(range.upperBound), not '\(raw)'"
            }
        case .boolean:
            guard Self.parseBoolean(raw) != nil else { return "\(key) needs true or false, not '\(raw)'" }
        case .string:
            break
        case .choice(let choices):
            guard choices.contains(raw) else { return "\(key) is one of \(choices.joined(separator: ", ")), not '\(raw)'" }
        }
        return nil
    }

    static func parseBoolean(_ raw: String) -> Bool? {
        switch raw.lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }
}

/// Why a configuration cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// What is wrong, naming the key and, where one declared it, the module.
    public var description: String

    /// An error with `description`.
    public init(_ description: String) { self.description = description }
}

extension KernelConfiguration {
    /// Checks every module setting against the declared options: an unknown key or a bad value fails.
    func validateModuleSettings(against options: [String: ConfigOption]) throws(ConfigurationError) {
        for (key, value) in moduleSettings.sorted(by: { $0.key < $1.key }) {
            guard let option = options[key] else { throw ConfigurationError("unknown option \(key)") }
            if let problem = option.problem(with: value) { throw ConfigurationError(problem) }
        }
    }

    /// Sets a module's option (for code and tests; the config file goes through the same validation at start).
    public mutating func set(_ option: ConfigOption, to value: some CustomStringConvertible) {
        moduleSettings[option.key] = value.description
    }
}

extension KernelConfiguration {
    /// The configured value of a whole-number option, or its default.
    public func value(of option: ConfigOption) -> Int {
        Int(rawValue(of: option)) ?? Int(option.defaultValue) ?? 0
    }

    /// The configured value of a true/false option, or its default.
    public func value(of option: ConfigOption) -> Bool {
        ConfigOption.parseBoolean(rawValue(of: option)) ?? false
    }

    /// The configured value of a text or choice option, or its default.
    public func value(of option: ConfigOption) -> String {
        rawValue(of: option)
    }

    private func rawValue(of option: ConfigOption) -> String {
        moduleSettings[option.key] ?? option.defaultValue
    }
}

extension ModuleHost {
    /// The configured value of a whole-number option, or its default.
    public func option(_ option: ConfigOption) -> Int { configuration.value(of: option) }

    /// The configured value of a true/false option, or its default.
    public func option(_ option: ConfigOption) -> Bool { configuration.value(of: option) }

    /// The configured value of a text or choice option, or its default.
    public func option(_ option: ConfigOption) -> String { configuration.value(of: option) }
}
