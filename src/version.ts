/** The product's name and version, as the CLI and the Reddit user agent report them. */
export const PRODUCT = 'reddit-stream';
export const VERSION = '0.1.0';
