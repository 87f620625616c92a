import type { Tone } from '../detail-lines.js';

/**
 * Colour, or none (NO_COLOR, or a plain snapshot). Without colour, bold, dim and inverse still
 * mark what matters (NO_COLOR forbids colour, not emphasis), and every state is spelled out,
 * so nothing is told by colour alone.
 */
export interface Theme {
  color: boolean;
  /** Mark the selected rows (not in a snapshot, where nothing can be selected). */
  selection?: boolean;
}

export interface TextStyle {
  color?: string | undefined;
  bold?: boolean | undefined;
  dimColor?: boolean | undefined;
  inverse?: boolean | undefined;
}

export function toneStyle(tone: Tone | undefined, theme: Theme): TextStyle {
  const c = (color: string) => (theme.color ? color : undefined);
  switch (tone) {
    case 'label':
      return { bold: true };
    case 'heading':
      return { bold: true, color: c('cyan') };
    case 'dim':
      return { dimColor: true };
    case 'error':
      return { color: c('red'), bold: !theme.color };
    case 'warn':
      return { color: c('yellow') };
    case 'good':
      return { color: c('green') };
    case 'accent':
      return { color: c('cyan') };
    default:
      return {};
  }
}
