import { Text } from 'ink';
import type { Segment, Tone } from '../detail-lines.js';
import { columnGap, fitColumns, fitText, type Column } from '../layout.js';
import { toneStyle, type Theme } from './theme.js';

/** One table cell: its text and how it stands out. */
export interface Cell {
  text: string;
  tone?: Tone | undefined;
  /** Differently toned pieces (a chart); `text` is their concatenation. */
  parts?: readonly Segment[] | undefined;
}

/** The selection gutter: `›` marks the selected row even when its panel is not focused. */
const GUTTER = 1;

export interface FittedTable {
  columns: Column[];
  gap: number;
}

/** The columns of a table drawn across `width` (the selection gutter included). */
export function fitTable(columns: readonly Column[], width: number): FittedTable {
  const inner = width - GUTTER;
  const gap = columnGap(inner);
  return { columns: fitColumns(columns, inner, gap), gap };
}

export function PanelTitle(props: { title: string; detail?: string; focused: boolean; theme: Theme }) {
  return (
    <Text wrap="truncate">
      <Text bold inverse={props.focused}>{` ${props.title} `}</Text>
      {props.detail ? <Text dimColor={!props.focused}>{` ${props.detail}`}</Text> : null}
    </Text>
  );
}

export function TableHeader(props: { table: FittedTable }) {
  const gap = ' '.repeat(props.table.gap);
  return (
    <Text wrap="truncate" dimColor>
      {' '}
      {props.table.columns.map((c) => fitText(c.title, c.width, c.align)).join(gap)}
    </Text>
  );
}

export function TableRow(props: {
  table: FittedTable;
  cells: Readonly<Record<string, Cell>>;
  selected: boolean;
  focused: boolean;
  theme: Theme;
}) {
  const gap = ' '.repeat(props.table.gap);
  const selected = props.selected && props.theme.selection !== false;
  return (
    <Text wrap="truncate" inverse={selected && props.focused}>
      {selected ? '›' : ' '}
      {props.table.columns.map((c, i) => {
        const cell = props.cells[c.key] ?? { text: '' };
        if (cell.parts && Array.from(cell.text).length <= c.width) {
          return (
            <Text key={c.key}>
              {i > 0 ? gap : ''}
              {cell.parts.map((p, j) => (
                <Text key={j} {...toneStyle(p.tone, props.theme)}>
                  {p.text}
                </Text>
              ))}
              {' '.repeat(c.width - Array.from(cell.text).length)}
            </Text>
          );
        }
        return (
          <Text key={c.key} {...toneStyle(cell.tone, props.theme)}>
            {(i > 0 ? gap : '') + fitText(cell.text, c.width, c.align)}
          </Text>
        );
      })}
    </Text>
  );
}

/** A placeholder line inside an empty panel. */
export function EmptyRow(props: { text: string }) {
  return (
    <Text wrap="truncate" dimColor>
      {`  ${props.text}`}
    </Text>
  );
}
