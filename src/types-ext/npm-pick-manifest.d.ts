declare module 'npm-pick-manifest' {
  interface PickOptions {
    defaultTag?: string;
    before?: string | Date;
  }
  function pickManifest(
    packument: unknown,
    wanted: string,
    options?: PickOptions,
  ): { name?: string; version: string; [key: string]: unknown };
  export = pickManifest;
}
