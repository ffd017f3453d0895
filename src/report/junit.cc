#include "oodscore/junit.h"

#include <cstdio>
#include <ctime>

#include "oodscore/html_report.h"

namespace oodscore {

namespace {

std::string Attr(const std::string& name, const std::string& value) {
  return " " + name + "=\"" + EscapeMarkup(value) + "\"";
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", s >= 0 ? s : 0.0);
  return buf;
}

}  // namespace

std::string JunitXml(const Report& report, const std::string& suite_name, double seconds) {
  std::size_t failures = 0;
  for (const auto& c : report.checks) failures += !c.pass;
  const std::size_t tests = report.checks.empty() ? 1 : report.checks.size();
  char stamp[32] = "1970-01-01T00:00:00";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (gmtime_r(&now, &tm)) std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

  const std::string counts = Attr("tests", std::to_string(tests)) +
                             Attr("failures", std::to_string(failures)) + Attr("errors", "0");
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<testsuites" + Attr("name", "oodscore") + counts + Attr("time", Seconds(seconds)) + ">\n";
  x += "  <testsuite" + Attr("name", suite_name) + counts + Attr("skipped", "0") +
       Attr("time", Seconds(seconds)) + Attr("timestamp", stamp) + ">\n";
  if (report.checks.empty()) {
    x += "    <testcase" + Attr("classname", "oodscore.run") +
         Attr("name", "report written (no checks configured)") + Attr("time", "0") + "/>\n";
  }
  for (const auto& c : report.checks) {
    x += "    <testcase" + Attr("classname", "oodscore." + c.kind) +
         Attr("name", c.subject + " " + c.allowed) + Attr("time", "0");
    // A baseline check's significance is read in CI even when it passes.
    const std::string out =
        c.significance ? "      <system-out>" + EscapeMarkup(c.message) + "</system-out>\n" : "";
    if (c.pass) {
      x += out.empty() ? "/>\n" : ">\n" + out + "    </testcase>\n";
      continue;
    }
    x += ">\n      <failure" + Attr("type", c.kind) + Attr("message", c.message) + ">" +
         EscapeMarkup(c.message + "\ncheck: " + c.expr) + "</failure>\n" + out +
         "    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

}  // namespace oodscore
