from mosaic_tui.cli import main

main()
