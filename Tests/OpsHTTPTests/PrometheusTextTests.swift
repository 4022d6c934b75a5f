import Testing
@testable import OpsHTTP

@Suite struct PrometheusTextTests {
    @Test func escapesBackslashQuoteAndNewlineInLabelValues() {
        #expect(PrometheusText.escapeLabelValue(#"a\b"#) == #"a\\b"#)
        #expect(PrometheusText.escapeLabelValue(#"say "hi""#) == #"say \"hi\""#)
        #expect(PrometheusText.escapeLabelValue("two\nlines") == #"two\nlines"#)
        #expect(PrometheusText.escapeLabelValue("tab\tand é stay") == "tab\tand é stay")
    }

    @Test func helpEscapesBackslashAndNewlineButNotQuotes() {
        #expect(PrometheusText.escapeHelp("a \"quoted\" \\ word\nnext") == #"a "quoted" \\ word\nnext"#)
    }

    @Test(arguments: [(3.0, "3"), (0.0, "0"), (-2.0, "-2"), (0.25, "0.25"), (1.5e20, "1.5e+20"),
                      (Double.nan, "NaN"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf")])
    func formatsValues(_ value: Double, _ text: String) {
        #expect(PrometheusText.formatValue(value) == text)
    }

    @Test func rendersHelpTypeAndSamplesInOrder() {
        var p = PrometheusText()
        p.gauge("opsplane_up", help: "Whether it runs", 1)
        p.counter("opsplane_drops_total", help: "Drops by reason", 4, labels: [("reason", "too_large")])
        p.counter("opsplane_drops_total", help: "ignored: first HELP wins", 2, labels: [("reason", "bad \"json\"")])
        #expect(p.render() == """
            # HELP opsplane_up Whether it runs
            # TYPE opsplane_up gauge
            opsplane_up 1
            # HELP opsplane_drops_total Drops by reason
            # TYPE opsplane_drops_total counter
            opsplane_drops_total{reason="too_large"} 4
            opsplane_drops_total{reason="bad \\"json\\""} 2

            """)
    }

    @Test func summaryLeavesOutMissingQuantilesAndEndsWithSumAndCount() {
        var p = PrometheusText()
        p.summary("opsplane_api_latency_ms", help: "Latency", quantiles: [(0.5, 12), (0.99, nil)],
                  sum: 120.5, count: 10, labels: [("window", "1m")])
        #expect(p.render() == """
            # HELP opsplane_api_latency_ms Latency
            # TYPE opsplane_api_latency_ms summary
            opsplane_api_latency_ms{window="1m",quantile="0.5"} 12
            opsplane_api_latency_ms_sum{window="1m"} 120.5
            opsplane_api_latency_ms_count{window="1m"} 10

            """)
    }

    @Test func familyWithoutSamplesIsStillDescribed() {
        var p = PrometheusText()
        p.add("opsplane_alerts", .gauge, help: "Alerts", samples: [])
        #expect(p.render() == "# HELP opsplane_alerts Alerts\n# TYPE opsplane_alerts gauge\n")
    }

    @Test func validatesNames() {
        #expect(PrometheusText.isValidMetricName("opsplane:ratio_5m"))
        #expect(!PrometheusText.isValidMetricName("9lives"))
        #expect(!PrometheusText.isValidMetricName("has-dash"))
        #expect(!PrometheusText.isValidMetricName(""))
        #expect(PrometheusText.isValidLabelName("route_group"))
        #expect(!PrometheusText.isValidLabelName("__reserved"))
        #expect(!PrometheusText.isValidLabelName("a:b"))
    }
}
