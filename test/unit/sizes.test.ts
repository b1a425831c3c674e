// Keeps src/ readable (issue 13, STYLE.md): no function or arrow function over 120 lines
// and no source file over 300 lines. A failure lists every offender with its size, so the
// fix (split by responsibility) can start from the message.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const srcRoot = join(repoRoot, 'src');

const MAX_FUNCTION_LINES = 120;
const MAX_FILE_LINES = 300;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Lines in `text` as an editor counts them (a trailing newline does not start a line). */
function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function functionName(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText();
  }
  if (ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText().slice(0, 40)}>`;
  return '<anonymous>';
}

interface Sized {
  where: string;
  lines: number;
}

/** Every function-like node of `text` whose span (first to last line, inclusive) exceeds `max`. */
function longFunctions(where: string, text: string, max: number): Sized[] {
  const file = ts.createSourceFile(where, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Sized[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) {
        found.push({ where: `${where}:${first + 1} ${functionName(node)}`, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const format = (items: Sized[]): string[] => items.map((i) => `${i.where} (${i.lines} lines)`);

describe('source sizes in src/', () => {
  const files = sourceFiles(srcRoot);

  it('finds the sources it measures', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.some((f) => f.endsWith(join('app', 'app.ts')))).toBe(true);
  });

  it(`has no function or arrow function over ${MAX_FUNCTION_LINES} lines`, () => {
    const offenders = files.flatMap((f) => longFunctions(relative(repoRoot, f), readFileSync(f, 'utf8'), MAX_FUNCTION_LINES));
    expect(format(offenders)).toEqual([]);
  });

  it(`has no file over ${MAX_FILE_LINES} lines`, () => {
    const offenders = files
      .map((f) => ({ where: relative(repoRoot, f), lines: lineCount(readFileSync(f, 'utf8')) }))
      .filter((f) => f.lines > MAX_FILE_LINES);
    expect(format(offenders)).toEqual([]);
  });

  it('the measure names long functions, arrows and methods, and counts nested ones on their own', () => {
    // Guards the checker itself: a visitor that never fires would pass forever.
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `    const v${i} = ${i};`).join('\n');
    const text = [
      'export const createThing = () => {',
      '  function inner() {',
      lines(121),
      '  }',
      '  return { run() {',
      lines(5),
      '  } };',
      '};',
      'export function short() {',
      lines(118),
      '}',
      '',
    ].join('\n');
    expect(format(longFunctions('x.ts', text, MAX_FUNCTION_LINES))).toEqual(['x.ts:1 createThing (132 lines)', 'x.ts:2 inner (123 lines)']);
    expect(format(longFunctions('x.ts', text, 4))).toContain('x.ts:125 run (7 lines)');
    expect(lineCount(text)).toBe(252); // short() is 120 lines: at the limit, not over it
  });
});
