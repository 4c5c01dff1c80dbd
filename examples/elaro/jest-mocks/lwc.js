// Minimal stand-in for the LWC engine: enough to construct a component and call its lifecycle hooks.
export class LightningElement {}
