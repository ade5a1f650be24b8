#!/usr/bin/env node
// Entry of the esbuild bundle dist/client/tollgate.js (bin `tollgate`).
import { run } from './cli';

void run();
