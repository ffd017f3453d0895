#include "oodscore/gallery.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/base64.h"
#include "cli/gallery_images.h"
#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/html_report.h"
#include "oodscore/report.h"
#include "oodscore/thumbnail.h"
#include "test_util.h"

namespace oodscore {
namespace {

ScoreInfo Score(const std::string& name) {
  ScoreInfo info;
  EXPECT_TRUE(LookupScore(name, &info)) << name;
  return info;
}

// Columns energy, msp, log_msp; ID rows under id/<class folder>/, OOD rows under ood/.
ScoreTable Table() {
  ScoreTable t;
  t.columns = {"energy", "msp", "log_msp"};
  struct R {
    const char* set;
    const char* path;
    const char* label;
    const char* pred;
    double energy, msp;
  };
  // ID: energies -9 (most ID) .. -2 (most OOD); two rows tie at -3.
  const R rows[] = {
      {"id", "id/0_cat/a.png", "0", "0", -9, 0.99}, {"id", "id/0_cat/b.png", "0", "1", -3, 0.60},
      {"id", "id/1_dog/c.png", "1", "1", -2, 0.50}, {"id", "id/1_dog/d.png", "1", "1", -3, 0.70},
      {"id", "id/1_dog/e.png", "1", "0", -8, 0.95}, {"ood", "ood/x <1>.png", "", "1", -1, 0.40},
      {"ood", "ood/y.png", "", "0", -7, 0.90},      {"ood", "ood/z.png", "", "1", -7, 0.91}};
  for (const R& r : rows) {
    const double v[] = {r.energy, r.msp, std::log(r.msp)};
    t.AddRow(r.set, r.path, r.label, r.pred, v);
  }
  return t;
}

TEST(GalleryTest, PicksTheTopKWithTiesInRowOrder) {
  const std::vector<double> v = {3, 1, 5, 5, 1, 2};
  EXPECT_EQ(GalleryPicks(v, 3, /*highest=*/true), (std::vector<std::size_t>{2, 3, 0}));
  EXPECT_EQ(GalleryPicks(v, 3, /*highest=*/false), (std::vector<std::size_t>{1, 4, 5}));
  EXPECT_EQ(GalleryPicks(v, 10, true), (std::vector<std::size_t>{2, 3, 0, 5, 1, 4}));
  EXPECT_TRUE(GalleryPicks(v, 0, true).empty());
  EXPECT_TRUE(GalleryPicks({}, 4, true).empty());
}

TEST(GalleryTest, HeadlineScoresAreTheGatedOnesElseEnergy) {
  const std::vector<ScoreInfo> reported = {Score("msp"), Score("energy"), Score("maxlogit")};
  auto names = [](const std::vector<ScoreInfo>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(s.name);
    return out;
  };
  EXPECT_EQ(names(HeadlineScores(reported, {"maxlogit", "msp", "maxlogit"})),
            (std::vector<std::string>{"msp", "maxlogit"}));
  EXPECT_EQ(names(HeadlineScores(reported, {})), (std::vector<std::string>{"energy"}));
  EXPECT_EQ(names(HeadlineScores({Score("msp"), Score("maxlogit")}, {})),
            (std::vector<std::string>{"msp"}));
}

TEST(GalleryTest, ListsTheMostWrongSamplesPerScoreAndSet) {
  const ScoreTable t = Table();
  // Thresholds, oriented: accept energy <= -3, msp >= 0.6.
  const Gallery g = BuildGallery(t, {Score("energy"), Score("msp")}, {3.0, std::log(0.6)}, {"id"},
                                 {"ood"}, 2, {"0_cat", "1_dog"});
  ASSERT_EQ(g.lists.size(), 4u);  // per score: ID, then each OOD set
  // energy, lower = ID: the ID rows with the highest energy; -3 ties in row order (b before d).
  const GalleryList& id = g.lists[0];
  EXPECT_TRUE(id.id);
  EXPECT_EQ(id.score, "energy");
  ASSERT_EQ(id.items.size(), 2u);
  EXPECT_EQ(id.items[0].path, "id/1_dog/c.png");
  EXPECT_EQ(id.items[0].score, -2);
  EXPECT_EQ(id.items[0].label, "1_dog");
  EXPECT_EQ(id.items[1].path, "id/0_cat/b.png");
  EXPECT_EQ(id.items[1].pred, "1_dog");
  EXPECT_EQ(id.items[1].label, "0_cat");
  EXPECT_EQ(id.rule, "energy <= -3");
  EXPECT_FALSE(id.items[0].accepted);  // -2 > -3
  EXPECT_TRUE(id.items[1].accepted);   // on the threshold
  // The OOD rows with the lowest energy: y and z tie at -7, in row order.
  const GalleryList& ood = g.lists[1];
  EXPECT_FALSE(ood.id);
  EXPECT_EQ(ood.set, "ood");
  ASSERT_EQ(ood.items.size(), 2u);
  EXPECT_EQ(ood.items[0].path, "ood/y.png");
  EXPECT_EQ(ood.items[1].path, "ood/z.png");
  EXPECT_EQ(ood.items[0].label, "");
  EXPECT_TRUE(ood.items[0].accepted && ood.items[1].accepted);
  // msp ranks by log_msp (higher = ID) and shows the msp.
  EXPECT_EQ(g.lists[2].items[0].path, "id/1_dog/c.png");
  EXPECT_EQ(g.lists[2].items[1].path, "id/0_cat/b.png");
  EXPECT_EQ(g.lists[3].items[0].path, "ood/z.png");
  EXPECT_DOUBLE_EQ(g.lists[3].items[0].score, 0.91);
  EXPECT_FALSE(g.lists[2].items[0].accepted);  // msp 0.5
  EXPECT_TRUE(g.lists[2].items[1].accepted);   // msp 0.6, on the threshold
  EXPECT_EQ(g.lists[2].rule, "msp >= 0.6");
}

// --fsood: the csid sets are ID, so their rows join the ID list.
TEST(GalleryTest, SetsCountedAsIdMakeOneIdList) {
  ScoreTable t = Table();
  const double v[] = {-1.5, 0.45, std::log(0.45)};
  t.AddRow("csid", "csid/q.png", "0", "1", v);
  const Gallery g =
      BuildGallery(t, {Score("energy")}, {3.123456789}, {"id", "csid"}, {"ood"}, 2, {});
  ASSERT_EQ(g.lists.size(), 2u);
  EXPECT_EQ(g.lists[0].rule, "energy <= -3.123456789");   // exact in report.json
  EXPECT_EQ(g.lists[0].rule_shown, "energy <= -3.1235");  // as the titles show it
  EXPECT_EQ(g.lists[0].set, "id + csid");
  EXPECT_EQ(g.lists[0].items[0].path, "csid/q.png");
  EXPECT_EQ(g.lists[0].items[1].path, "id/1_dog/c.png");
  EXPECT_THROW(BuildGallery(t, {Score("energy")}, {3.0}, {"id", "cisd"}, {"ood"}, 2, {}), Error);
}

TEST(GalleryTest, ZeroKMakesNoListsAndUnknownSetsAreRefused) {
  const ScoreTable t = Table();
  EXPECT_TRUE(BuildGallery(t, {Score("energy")}, {0.0}, {"id"}, {"ood"}, 0, {}).lists.empty());
  try {
    BuildGallery(t, {Score("energy")}, {0.0}, {"id"}, {"svhn"}, 3, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the score table has no rows of set 'svhn'");
  }
}

TEST(GalleryTest, ClassNamesComeFromTheLabelsFolders) {
  ScoreTable t = Table();
  EXPECT_EQ(FolderClassNames(t, "id"), (std::vector<std::string>{"0_cat", "1_dog"}));
  const double v[] = {-1, 0.5, std::log(0.5)};
  t.AddRow("id", "elsewhere/f.png", "1", "1", v);  // class 1 in two folders: no name
  EXPECT_EQ(FolderClassNames(t, "id"), (std::vector<std::string>{"0_cat", ""}));
  // Without names, classes show as their codes.
  const Gallery g = BuildGallery(Table(), {Score("energy")}, {0.0}, {"id"}, {"ood"}, 1, {});
  EXPECT_EQ(g.lists[0].items[0].label, "1");
}

TEST(GalleryTest, RendersInEveryFormatWithEscapedPaths) {
  const ScoreTable t = Table();
  Report r = BuildReport([&] {
    ReportInput in;
    in.scores = {Score("energy")};
    in.id = {"id", {{9, 3, 2, 3, 8}}};
    in.ood = {{"ood", {{1, 7, 7}}}};
    return in;
  }());
  r.gallery = BuildGallery(t, {Score("energy")}, {3.0}, {"id"}, {"ood"}, 1, {"0_cat", "1_dog"});
  r.gallery->lists[1].items[0].png_base64 = "AAAA";
  r.gallery->lists[1].items[0].path = "ood/x <1>|.png";
  const nlohmann::json j = ReportJson(r);
  EXPECT_EQ(j["gallery"]["k"], 1);
  EXPECT_EQ(j["gallery"]["lists"][0]["role"], "id");
  EXPECT_EQ(j["gallery"]["lists"][0]["looks"], "most OOD-looking");
  EXPECT_EQ(j["gallery"]["lists"][0]["items"][0], nlohmann::json({{"path", "id/1_dog/c.png"},
                                                                  {"score", -2.0},
                                                                  {"pred", "1_dog"},
                                                                  {"label", "1_dog"},
                                                                  {"accepted", false}}));
  EXPECT_EQ(j["gallery"]["lists"][0]["accept_as_id"], "energy <= -3");
  EXPECT_FALSE(j["gallery"]["lists"][1]["items"][0].contains("label"));
  const std::string md = ReportMarkdown(r);
  EXPECT_NE(md.find("## Failure gallery\n\nThe 1 most OOD-looking samples of id (ID) by energy; "
                    "the threshold accepts energy <= -3 as ID:\n\n"
                    "| # | path | energy | pred | true | threshold |\n|---:|---|---:|---|---|---|\n"
                    "| 1 | id/1_dog/c.png | -2 | 1_dog | 1_dog | rejected |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 1 | ood/x <1>\\|.png | -7 | 0_cat | accepted |\n"), std::string::npos) << md;
  ReportInput in;
  in.scores = {Score("energy")};
  in.id = {"id", {{9, 3, 2, 3, 8}}};
  in.ood = {{"ood", {{1, 7, 7}}}};
  const std::string html = ReportHtml(r, in);
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,AAAA\" alt=\"\">"), std::string::npos);
  EXPECT_NE(html.find("ood/x &lt;1&gt;|.png"), std::string::npos);
  EXPECT_EQ(html.find("x <1>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"noimg\">no image</div>"), std::string::npos);
  // The threshold's mistakes in red: the ID image it rejects, the OOD image it accepts.
  EXPECT_NE(html.find("<br><span class=\"wrong\">rejected</span></figcaption>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("<br><span class=\"wrong\">accepted</span></figcaption>"), std::string::npos);
  EXPECT_NE(html.find("the threshold accepts energy &lt;= -3 as ID"), std::string::npos);
  // Without a gallery, no trace of one.
  r.gallery.reset();
  EXPECT_FALSE(ReportJson(r).contains("gallery"));
  EXPECT_EQ(ReportMarkdown(r).find("gallery"), std::string::npos);
}

TEST(ThumbnailTest, Base64MatchesRfc4648) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xff\x00\xfe", 3)), "/wD+");
}

Image Pattern(int w, int h, bool grey) {
  Image im{w, h, 3, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &im.pixels[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = static_cast<std::uint8_t>(x * 7 + y);
      p[1] = grey ? p[0] : static_cast<std::uint8_t>(y * 5);
      p[2] = grey ? p[0] : static_cast<std::uint8_t>(x ^ y);
    }
  }
  return im;
}

TEST(ThumbnailTest, PngRoundTripsAndGreyImagesGetOneChannel) {
  for (bool grey : {false, true}) {
    const Image im = Pattern(13, 7, grey);
    const std::string png = EncodePng(im);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
    EXPECT_EQ(static_cast<unsigned char>(png[25]), grey ? 0 : 2) << "IHDR colour type";
    const DecodeResult d =
        DecodeImage(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), ColorMode::kRgb);
    ASSERT_TRUE(d.ok()) << d.error;
    EXPECT_EQ(d.image.width, 13);
    EXPECT_EQ(d.image.height, 7);
    EXPECT_EQ(d.image.pixels, im.pixels) << "grey " << grey;
  }
  EXPECT_THROW(EncodePng(Image{}), Error);
}

TEST(ThumbnailTest, ShrinksToTheLongestSideAndNeverEnlarges) {
  const Image wide = Shrink(Pattern(200, 50, false), 96);
  EXPECT_EQ(wide.width, 96);
  EXPECT_EQ(wide.height, 24);
  const Image tall = Shrink(Pattern(30, 301, false), 96);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 96);
  const Image small = Shrink(Pattern(28, 28, true), 96);
  EXPECT_EQ(small.width, 28);
  EXPECT_EQ(small.pixels, Pattern(28, 28, true).pixels);
}

TEST(ThumbnailTest, UnreadableFilesAreNotedOnce) {
  const testing::TempDir dir;
  const std::string good = dir / "good.png";
  testing::WriteText(good, EncodePng(Pattern(120, 60, false)));
  Gallery g;
  g.k = 2;
  g.lists = {{"energy", "id", true, {{0, good, -1, "", "", ""}, {1, good, -2, "", "", ""}}},
             {"energy", "ood", false, {{2, dir / "missing.png", -5, "", "", ""}}}};
  AddThumbnails(&g, 96);
  ASSERT_FALSE(g.lists[0].items[0].png_base64.empty());
  EXPECT_EQ(g.lists[0].items[0].png_base64, g.lists[0].items[1].png_base64);
  EXPECT_EQ(g.lists[0].items[0].png_base64.substr(0, 8), "iVBORw0K");  // "\x89PNG\r\n"
  EXPECT_TRUE(g.lists[1].items[0].png_base64.empty());
  EXPECT_EQ(g.note,
            "1 of the gallery's 2 images could not be read, so it shows their paths and "
            "scores without thumbnails (paths are read as the scores hold them, from the "
            "current folder; first: '" +
                dir / "missing.png" + "': cannot read file: no such file)");
  // Rows of .npy inputs have no image: noted, not counted as unreadable.
  g.lists[1].items[0].path = dir / "logits.npy#12";
  AddThumbnails(&g, 96);
  EXPECT_TRUE(g.lists[1].items[0].png_base64.empty());
  EXPECT_FALSE(g.lists[0].items[0].png_base64.empty());
  EXPECT_EQ(g.note,
            "the gallery's rows of .npy inputs (logits or preprocessed tensors) have no image to "
            "show, so they are listed by path and score");
}

}  // namespace
}  // namespace oodscore
