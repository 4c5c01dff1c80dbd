// Stand-in for an imperative Apex import; tests set the next answer with __setResponse.
let nextResponse = [];

export function __setResponse(value) {
  nextResponse = value;
}

export default async function apexMethod() {
  if (nextResponse instanceof Error) {
    throw nextResponse;
  }
  return nextResponse;
}
