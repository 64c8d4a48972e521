#!/usr/bin/env node
// The holdfast command: runs the compiled CLI (npm run build produces dist/).
import '../dist/main.js';
