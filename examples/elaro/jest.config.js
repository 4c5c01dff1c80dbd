// Plain jest in native ESM mode (see the test:unit script): the LWC engine and Apex imports are mapped to small
// stand-ins in jest-mocks/, which keeps the install light compared with @salesforce/sfdx-lwc-jest.
export default {
  testEnvironment: "node",
  transform: {},
  roots: ["<rootDir>/force-app"],
  moduleNameMapper: {
    "^lwc$": "<rootDir>/jest-mocks/lwc.js",
    "^@salesforce/apex/.+$": "<rootDir>/jest-mocks/apex.js"
  },
  collectCoverageFrom: ["force-app/**/lwc/**/*.js", "!**/__tests__/**"],
  coverageDirectory: "coverage"
};
