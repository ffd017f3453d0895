#include "oodscore/junit.h"

#include <gtest/gtest.h>

namespace oodscore {
namespace {

Report WithChecks(std::vector<CheckResult> checks) {
  Report r;
  r.checks = std::move(checks);
  return r;
}

TEST(JunitTest, OneTestcasePerCheckAndAFailureForEachFailingOne) {
  CheckResult ok, bad;
  ok.kind = "gate";
  ok.subject = "svhn.energy.auroc";
  ok.allowed = ">= 95%";
  bad.kind = "baseline";
  bad.subject = bad.expr = "svhn.energy.fpr_at_tpr";
  bad.allowed = "rise <= 1 pp";
  bad.pass = false;
  bad.message = "svhn.energy.fpr_at_tpr moved 0.1 -> 0.2 (+0.1; allowed rise 0.01) <&>";
  const std::string x = JunitXml(WithChecks({ok, bad}), "oodscore eval: a & b", 1.5);
  EXPECT_EQ(x.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"oodscore\" "
                    "tests=\"2\" failures=\"1\" errors=\"0\" time=\"1.500\">\n  <testsuite "
                    "name=\"oodscore eval: a &amp; b\" tests=\"2\" failures=\"1\" errors=\"0\" "
                    "skipped=\"0\" time=\"1.500\" timestamp=\"",
                    0),
            0u)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"oodscore.gate\" name=\"svhn.energy.auroc &gt;= 95%\" "
                   "time=\"0\"/>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<failure type=\"baseline\" message=\"svhn.energy.fpr_at_tpr moved 0.1 -&gt; "
                   "0.2 (+0.1; allowed rise 0.01) &lt;&amp;&gt;\">"),
            std::string::npos)
      << x;
  const std::string end = "    </testcase>\n  </testsuite>\n</testsuites>\n";
  EXPECT_EQ(x.substr(x.size() - end.size()), end);
}

TEST(JunitTest, NoChecksIsOnePassingTestcase) {
  const std::string x = JunitXml(WithChecks({}), "run", 0);
  EXPECT_NE(x.find("tests=\"1\" failures=\"0\""), std::string::npos);
  EXPECT_NE(x.find("<testcase classname=\"oodscore.run\" name=\"report written (no checks "
                   "configured)\" time=\"0\"/>"),
            std::string::npos)
      << x;
}

}  // namespace
}  // namespace oodscore
