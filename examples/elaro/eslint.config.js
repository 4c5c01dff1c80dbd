// Flat config without plugins: the recommended core rules that matter for LWC code, kept dependency-free.
const browserAndJestGlobals = {
  window: "readonly",
  document: "readonly",
  console: "readonly",
  describe: "readonly",
  it: "readonly",
  expect: "readonly"
};

export default [
  {
    ignores: ["node_modules/**", "coverage/**", ".sf/**", ".sfdx/**"]
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: browserAndJestGlobals
    },
    rules: {
      "no-unused-vars": "error",
      "no-undef": "error",
      "no-console": "error",
      "no-debugger": "error",
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: "error",
      "no-eval": "error",
      "no-implied-eval": "error"
    }
  },
  {
    // Build scripts run under Node and report on the console.
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: { process: "readonly" } },
    rules: { "no-console": "off" }
  }
];
