/** Lowest and highest REST API versions served; real Salesforce retired 21.0–30.0 (410 GONE). */
export const MIN_API_VERSION = 31;
export const MAX_API_VERSION = 62;
