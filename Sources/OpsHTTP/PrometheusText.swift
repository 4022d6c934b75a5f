/// The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then one
/// sample per line, `name{label="value",…} value`. Pure: it only renders what it is given.
///
/// Families are written in the order they are added; a family with no samples is still
/// described (HELP and TYPE), which parsers accept. Names must match the format's grammar
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`, labels without `:`); a bad name is a programming error and
/// traps, because Prometheus would reject the whole scrape.
public struct PrometheusText: Sendable {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public enum MetricType: String, Sendable {
        case counter, gauge, summary, histogram, untyped
    }

    public struct Sample: Sendable, Equatable {
        /// Appended to the family name (`_sum`, `_count`, `_bucket`), "" for the family itself.
        public var suffix: String
        public var labels: [(String, String)]
        public var value: Double

        public init(suffix: String = "", labels: [(String, String)] = [], value: Double) {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.suffix == b.suffix && a.value.bitPattern == b.value.bitPattern
                && a.labels.map { $0.0 } == b.labels.map { $0.0 } && a.labels.map { $0.1 } == b.labels.map { $0.1 }
        }
    }

    struct Family: Sendable {
        let name: String
        let type: MetricType
        let help: String
        var samples: [Sample]
    }

    private var families: [Family] = []

    public init() {}

    /// Adds a family (or more samples to one already added under the same name and type).
    public mutating func add(_ name: String, _ type: MetricType, help: String, samples: [Sample]) {
        precondition(Self.isValidMetricName(name), "invalid Prometheus metric name \(name)")
        for s in samples {
            precondition(Self.isValidMetricName(name + s.suffix), "invalid Prometheus metric name \(name + s.suffix)")
            for (label, _) in s.labels {
                precondition(Self.isValidLabelName(label), "invalid Prometheus label name \(label)")
            }
        }
        if let i = families.firstIndex(where: { $0.name == name }) {
            precondition(families[i].type == type, "metric \(name) added with two types")
            families[i].samples += samples
        } else {
            families.append(Family(name: name, type: type, help: help, samples: samples))
        }
    }

    public mutating func gauge(_ name: String, help: String, _ value: Double, labels: [(String, String)] = []) {
        add(name, .gauge, help: help, samples: [Sample(labels: labels, value: value)])
    }

    public mutating func counter(_ name: String, help: String, _ value: Double, labels: [(String, String)] = []) {
        add(name, .counter, help: help, samples: [Sample(labels: labels, value: value)])
    }

    /// A summary: one sample per quantile (`quantile="0.95"`; a nil value is left out, as a
    /// percentile of no observations is not a number worth scraping), then `_sum` and `_count`.
    public mutating func summary(_ name: String, help: String, quantiles: [(Double, Double?)],
                                 sum: Double, count: Double, labels: [(String, String)] = []) {
        var samples: [Sample] = quantiles.compactMap { q, v in
            v.map { Sample(labels: labels + [("quantile", Self.formatValue(q))], value: $0) }
        }
        samples.append(Sample(suffix: "_sum", labels: labels, value: sum))
        samples.append(Sample(suffix: "_count", labels: labels, value: count))
        add(name, .summary, help: help, samples: samples)
    }

    /// The exposition text, ending with a newline.
    public func render() -> String {
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(Self.escapeHelp(f.help))\n"
            out += "# TYPE \(f.name) \(f.type.rawValue)\n"
            for s in f.samples {
                out += f.name + s.suffix
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " " + Self.formatValue(s.value) + "\n"
            }
        }
        return out
    }

    // MARK: the format's rules

    /// Label values escape backslash, double quote and line feed.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed (a quote stays as is).
    public static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Integral values without a fraction (`3`, not `3.0`), others as Swift prints a Double
    /// (shortest round-trip form), and the format's spellings `NaN`, `+Inf`, `-Inf`.
    public static func formatValue(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c == ":" }
        return letter(first) && name.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
    }

    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.hasPrefix("__") else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return letter(first) && name.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
    }
}
