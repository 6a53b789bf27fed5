// OmegaConf-style interpolation on the YAML tree, and through the config structs.
#include <gtest/gtest.h>

#include "config/yaml_tree.h"
#include "xlstm/training/experiment_config.h"

namespace xlstm {
namespace {

using yaml_detail::Node;

Node resolved(const std::string& yaml) {
  Node root = yaml_detail::parse_yaml(yaml, "i.yaml");
  yaml_detail::resolve_interpolations(root, "i.yaml");
  return root;
}

const Node& at(const Node& root, const std::string& dotted) {
  const Node* node = &root;
  size_t start = 0;
  while (start <= dotted.size()) {
    const size_t end = std::min(dotted.find('.', start), dotted.size());
    const std::string key = dotted.substr(start, end - start);
    node = node->kind == Node::Kind::Sequence ? &node->items.at(std::stoul(key)) : node->find(key);
    if (!node) throw std::runtime_error("no " + dotted);
    start = end + 1;
  }
  return *node;
}

void expect_scalar(const Node& node, Node::Kind kind, const std::string& text) {
  EXPECT_EQ(node.kind, kind) << yaml_detail::describe(node);
  EXPECT_EQ(node.text, text);
}

TEST(Interpolation, AbsoluteKeepsTheTargetType) {
  const Node root = resolved(
      "a: {b: {c: 3, f: 0.5, s: '3', t: true, n: null}}\n"
      "i: ${a.b.c}\nf: ${a.b.f}\ns: ${a.b.s}\nt: ${a.b.t}\nn: ${a.b.n}\n");
  expect_scalar(at(root, "i"), Node::Kind::Int, "3");
  expect_scalar(at(root, "f"), Node::Kind::Float, "0.5");
  expect_scalar(at(root, "s"), Node::Kind::String, "3");  // a quoted '3' stays a string
  expect_scalar(at(root, "t"), Node::Kind::Bool, "true");
  EXPECT_EQ(at(root, "n").kind, Node::Kind::Null);
  EXPECT_EQ(at(root, "i").line, 2);  // the value sits where the reference was written
}

TEST(Interpolation, WholeContainersAreCopied) {
  const Node root = resolved(
      "base: {x: 1, list: [4, 5]}\ncopy: ${base}\nitem: ${base.list.1}\n"
      "bracket: ${base.list[0]}\n");
  expect_scalar(at(root, "copy.x"), Node::Kind::Int, "1");
  expect_scalar(at(root, "copy.list.1"), Node::Kind::Int, "5");
  expect_scalar(at(root, "item"), Node::Kind::Int, "5");
  expect_scalar(at(root, "bracket"), Node::Kind::Int, "4");
}

TEST(Interpolation, RelativeToTheEnclosingMapping) {
  const Node root = resolved(
      "x: 1\nouter:\n  x: 2\n  inner:\n    x: 3\n"
      "    own: ${.x}\n    up: ${..x}\n    top: ${...x}\n    abs: ${x}\n"
      "list: [7, '${.0}']\n");
  expect_scalar(at(root, "outer.inner.own"), Node::Kind::Int, "3");
  expect_scalar(at(root, "outer.inner.up"), Node::Kind::Int, "2");
  expect_scalar(at(root, "outer.inner.top"), Node::Kind::Int, "1");
  expect_scalar(at(root, "outer.inner.abs"), Node::Kind::Int, "1");
  expect_scalar(at(root, "list.1"), Node::Kind::Int, "7");  // in a list: relative to the list
}

TEST(Interpolation, ChainsAndNestedKeys) {
  const Node root = resolved(
      "a: ${b}\nb: ${c.d}\nc: {d: '${e}'}\ne: 42\n"
      "which: d\npick: ${c.${which}}\n");
  expect_scalar(at(root, "a"), Node::Kind::Int, "42");
  expect_scalar(at(root, "c.d"), Node::Kind::Int, "42");
  expect_scalar(at(root, "pick"), Node::Kind::Int, "42");
  const Node scoped = resolved("m:\n  which: d\n  c: {d: 5}\n  pick: ${.c.${.which}}\n");
  expect_scalar(at(scoped, "m.pick"), Node::Kind::Int, "5");
}

TEST(Interpolation, InsideAStringGivesAString) {
  const Node root = resolved(
      "n: 4\nname: run_${n}_of_${m.k}\nm: {k: x}\nlit: 'cost \\${n}'\n"
      "num: '${n}0'\n");
  expect_scalar(at(root, "name"), Node::Kind::String, "run_4_of_x");
  expect_scalar(at(root, "lit"), Node::Kind::String, "cost ${n}");  // escaped: no interpolation
  expect_scalar(at(root, "num"), Node::Kind::String, "40");
}

TEST(YamlTree, MergeKeysAddWhatTheMappingDoesNotSet) {
  const Node root = resolved(
      "base: &b {x: 1, y: 2}\nother: &o {z: 3, x: 9}\n"
      "m:\n  <<: [*b, *o]\n  y: 5\n");
  expect_scalar(at(root, "m.x"), Node::Kind::Int, "1");  // the first merged mapping wins
  expect_scalar(at(root, "m.y"), Node::Kind::Int, "5");  // the mapping's own key wins
  expect_scalar(at(root, "m.z"), Node::Kind::Int, "3");
  EXPECT_THROW(resolved("m:\n  <<: 3\n"), ConfigError);
}

void expect_interpolation_error(const std::string& yaml, const std::string& key_path, int line,
                                const std::string& part) {
  try {
    resolved(yaml);
    ADD_FAILURE() << "no error for " << yaml;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), key_path) << e.what();
    EXPECT_EQ(e.location(), "i.yaml:" + std::to_string(line)) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Interpolation, ErrorsNameTheReferenceAndItsLocation) {
  expect_interpolation_error("a: 1\nb:\n  c: ${a.x}\n", "b.c", 3, "'${a.x}'");
  expect_interpolation_error("a: 1\nb: ${missing}\n", "b", 2, "key 'missing' not found");
  expect_interpolation_error("a: ${b}\nb: ${c}\nc: ${a}\n", "a", 1, "cycle");
  expect_interpolation_error("a: {x: '${a}'}\n", "a.x", 1, "cycle");
  expect_interpolation_error("a: ${...x}\n", "a", 1, "above the root");
  expect_interpolation_error("a: ${oc.env:HOME}\n", "a", 1, "resolvers");
  expect_interpolation_error("a: [1]\nb: x${a}\n", "b", 2, "inserts a list into a string");
  expect_interpolation_error("a: ${b\n", "a", 1, "unterminated");
  expect_interpolation_error("l: [1]\nb: ${l.3}\n", "b", 2, "key '3' not found");
}

TEST(Interpolation, ThroughTheConfigStructs) {
  const auto lm = from_yaml_string<xLSTMLMModelConfig>(
      "embedding_dim: 64\nnum_blocks: 4\nvocab_size: ${embedding_dim}\n"
      "context_length: ${.num_blocks}\n"
      "mlstm_block:\n  mlstm:\n    num_heads: 4\n    qkv_proj_blocksize: ${.num_heads}\n"
      "    conv1d_kernel_size: ${...num_blocks}\n"
      "slstm_block:\n  slstm:\n    num_heads: ${..feedforward._num_blocks}\n"
      "  feedforward: {_num_blocks: 2}\n");
  EXPECT_EQ(lm.vocab_size, 64);
  EXPECT_EQ(lm.context_length, 4);
  EXPECT_EQ(lm.mlstm_block->mlstm.qkv_proj_blocksize, 4);
  EXPECT_EQ(lm.mlstm_block->mlstm.conv1d_kernel_size, 4);
  EXPECT_EQ(lm.slstm_block->slstm.num_heads, 2);
  // A whole-value interpolation keeps the target's type: a quoted number is no integer.
  EXPECT_EQ(from_yaml_string<TrainingConfig>("amp_precision: float16\n"
                                             "weight_precision: ${.amp_precision}\n")
                .weight_precision,
            "float16");
  EXPECT_THROW(from_yaml_string<TrainingConfig>("device: ${.num_steps}\nnum_steps: 5\n"),
               ConfigError);
}

}  // namespace
}  // namespace xlstm
