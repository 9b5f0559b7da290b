// Configuration spaces: enumeration order, membership errors, defaults and
// the JSON form records are cached in.
#include "autotune/ConfigSpace.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessel::autotune {
namespace {

using ::testing::HasSubstr;

std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : "";
}

ConfigSpace demoSpace() {
  ConfigSpace s("demo", 3);
  s.param("C", {32, 64}).param("warps", {4, 8, 16});
  return s;
}

TEST(ConfigSpace, EnumeratesTheProductFirstParameterSlowest) {
  std::vector<Config> all = demoSpace().enumerate();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].str(), "C=32 warps=4");
  EXPECT_EQ(all[2].str(), "C=32 warps=16");
  EXPECT_EQ(all[3].str(), "C=64 warps=4");
  EXPECT_EQ(all[5].get("warps"), 16);
  EXPECT_EQ(demoSpace().version(), 3);
}

TEST(ConfigSpace, DefaultIsFirstValuesUnlessGiven) {
  EXPECT_EQ(demoSpace().defaultConfig().str(), "C=32 warps=4");
  ConfigSpace s = demoSpace();
  s.defaults(Config{{{"C", 64}, {"warps", 8}}});
  EXPECT_EQ(s.defaultConfig().str(), "C=64 warps=8");
}

TEST(ConfigSpace, ContainsNamesWhatIsOff) {
  ConfigSpace s = demoSpace();
  EXPECT_EQ(errorText(s.contains(Config{{{"C", 64}, {"warps", 8}}})), "");
  EXPECT_THAT(errorText(s.contains(Config{{{"C", 48}, {"warps", 8}}})),
              HasSubstr("C=48 is not one of space demo's values"));
  EXPECT_THAT(errorText(s.contains(Config{{{"rows", 64}, {"warps", 8}}})),
              HasSubstr("parameter 0 is 'rows', space demo expects 'C'"));
  EXPECT_THAT(errorText(s.contains(Config{{{"C", 64}}})),
              HasSubstr("has 1 parameters; space demo has 2"));
}

TEST(ConfigSpace, JsonRoundTripKeepsOrder) {
  Config c{{{"warps", 8}, {"C", 64}}};
  auto back = Config::fromJson(nlohmann::json::parse(c.toJson().dump()));
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, c);
  EXPECT_EQ(back->str(), "warps=8 C=64");
}

TEST(ConfigSpace, JsonErrorsNameTheEntry) {
  auto notArray = Config::fromJson(nlohmann::json::parse(R"({"C": 64})"));
  ASSERT_FALSE(static_cast<bool>(notArray));
  EXPECT_THAT(llvm::toString(notArray.takeError()),
              HasSubstr("expected an array of [name, value] pairs"));
  auto badPair = Config::fromJson(nlohmann::json::parse(R"([["C", "x"]])"));
  ASSERT_FALSE(static_cast<bool>(badPair));
  EXPECT_THAT(llvm::toString(badPair.takeError()),
              HasSubstr(R"(entry ["C","x"] is not a [name, integer] pair)"));
}

} // namespace
} // namespace tessel::autotune
