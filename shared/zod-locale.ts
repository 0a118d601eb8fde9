/**
 * English issue messages for schemas written with zod/mini. Mini loads no locale (an issue would read
 * "Invalid input"); classic zod sets English with its first schema, and only when nothing set a
 * locale before, so setting it here gives the same messages whichever loads first.
 *
 * zod/mini is used for the schemas a function builds when it loads (the event path: envelopes,
 * webhook entries, media jobs): a classic schema carries its whole method API, while mini's
 * functions are plain and tree-shaken, so a cold start builds and compiles less. Import mini as
 * `import * as z from 'zod/mini'` in the module that uses it: a namespace passed on (re-exported)
 * keeps every export of zod, its locales included, in the bundle.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());
