// JUnit XML: the test-report format that GitLab CI (artifacts:reports:junit), Jenkins (junit
// step) and GitHub's test-report actions read. Every check of a run (gate, baseline tolerance,
// skipped-share limit) is one <testcase>; a failing one holds a <failure> with its message.
// A run without checks is one passing testcase, so that the report is never empty.
//
//   <testsuites name="oodscore" tests="3" failures="1" errors="0" time="12.3">
//     <testsuite name="oodscore eval: cifar10 vs svhn, lsun" tests="3" failures="1" ...>
//       <testcase classname="oodscore.gate" name="svhn.energy.auroc &gt;= 95%" time="0">
//         <failure type="gate" message="svhn.energy.auroc = 93.1% violates ...">...</failure>
//       </testcase> ...
#ifndef OODSCORE_JUNIT_H_
#define OODSCORE_JUNIT_H_

#include <string>

#include "oodscore/report.h"

namespace oodscore {

// suite_name names the run (command and sets); seconds is the run's wall time.
std::string JunitXml(const Report& report, const std::string& suite_name, double seconds);

}  // namespace oodscore

#endif  // OODSCORE_JUNIT_H_
