import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // Relative asset paths: dist/ can be served from any path.
  base: './',
  // @tether/ai-sdk and @tether/client are linked from this repository (file: dependencies); resolve
  // their imports from here, where npm installed them.
  resolve: { preserveSymlinks: true },
});
