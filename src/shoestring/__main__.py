from shoestring.cli import main

raise SystemExit(main())
