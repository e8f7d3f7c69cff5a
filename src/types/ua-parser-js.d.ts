/** The part of ua-parser-js 1.x that gatehouse uses (the package ships no types of its own). */
declare module 'ua-parser-js' {
  interface Named {
    name?: string;
    version?: string;
    major?: string;
  }
  export class UAParser {
    constructor(userAgent?: string);
    getBrowser(): Named;
    getOS(): Named;
  }
}
